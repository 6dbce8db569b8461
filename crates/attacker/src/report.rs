//! The attacker's JSON lines on stdout, each with `t_ms` since start.

use std::{io::Write as _, time::Instant};

use serde_json::{Map, Value};

/// Event lines and the counters of the final `done` line.
#[derive(Debug)]
pub(crate) struct Report {
    start: Instant,
    published: u64,
    published_bytes: u64,
    publish_errors: u64,
    redials: u64,
}

impl Report {
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            published: 0,
            published_bytes: 0,
            publish_errors: 0,
            redials: 0,
        }
    }

    /// Prints one event line with `fields`.
    pub(crate) fn line(&self, event: &str, fields: &[(&str, Value)]) {
        let mut map = Map::new();
        map.insert("event".into(), event.into());
        map.insert(
            "t_ms".into(),
            (self.start.elapsed().as_millis() as u64).into(),
        );
        for (name, value) in fields {
            map.insert((*name).into(), value.clone());
        }
        let mut out = std::io::stdout().lock();
        // A closed stdout (the test stopped reading) must not stop the attack early.
        let _ = writeln!(out, "{}", Value::Object(map));
        let _ = out.flush();
    }

    pub(crate) fn published(&mut self, len: usize) {
        self.published += 1;
        self.published_bytes += len as u64;
    }

    pub(crate) fn publish_error(&mut self) {
        self.publish_errors += 1;
    }

    pub(crate) fn redial(&mut self) {
        self.redials += 1;
    }

    /// The final line, with `extra` fields.
    pub(crate) fn done_with(&self, extra: &[(&str, Value)]) {
        let mut fields = vec![
            ("published", self.published.into()),
            ("published_bytes", self.published_bytes.into()),
            ("publish_errors", self.publish_errors.into()),
            ("redials", self.redials.into()),
        ];
        fields.extend(extra.iter().cloned());
        self.line("done", &fields);
    }
}
