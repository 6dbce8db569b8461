//! `/healthz` on the RPC port, as op-service's `newHealthMiddleware`: `/healthz` and `/healthz/`,
//! any method, answer 200 `application/json` with `{"version":"<version>"}` and a newline (Go's
//! `json.Encoder`), without looking at the node's state. Everything else goes to jsonrpsee.
//!
//! A tower layer in front of jsonrpsee's service: jsonrpsee's own `ProxyGetRequestLayer` answers
//! only `GET` and wraps the answer of an RPC method, not op-node's body.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{HeaderValue, StatusCode, header::CONTENT_TYPE};
use jsonrpsee::{
    core::BoxError,
    server::{HttpBody, HttpRequest, HttpResponse},
};

/// The version `/healthz` reports: op-node prints `v<version>-<commit>-<date>`; this node has
/// its package version.
pub(crate) fn app_version() -> String {
    format!("v{}", env!("CARGO_PKG_VERSION"))
}

/// The body op-node writes.
fn body(version: &str) -> Vec<u8> {
    let mut body = serde_json::json!({ "version": version })
        .to_string()
        .into_bytes();
    body.push(b'\n');
    body
}

/// The layer.
#[derive(Debug, Clone)]
pub(crate) struct HealthzLayer {
    body: Vec<u8>,
}

impl HealthzLayer {
    /// Answers with `version`.
    pub(crate) fn new(version: &str) -> Self {
        Self {
            body: body(version),
        }
    }
}

impl<S> tower::Layer<S> for HealthzLayer {
    type Service = Healthz<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Healthz {
            inner,
            body: self.body.clone(),
        }
    }
}

/// The service: `/healthz` here, the rest to `inner`.
#[derive(Debug, Clone)]
pub(crate) struct Healthz<S> {
    inner: S,
    body: Vec<u8>,
}

impl<S, B> tower::Service<HttpRequest<B>> for Healthz<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
    S::Error: Into<BoxError> + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        if matches!(request.uri().path(), "/healthz" | "/healthz/") {
            let mut response = HttpResponse::new(HttpBody::from(self.body.clone()));
            *response.status_mut() = StatusCode::OK;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return Box::pin(async move { Ok(response) });
        }
        let future = self.inner.call(request);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_op_nodes() {
        assert_eq!(body("v1.2.3"), b"{\"version\":\"v1.2.3\"}\n");
    }
}
