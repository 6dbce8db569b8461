//! Temporary harness for the property tests.
#[path = "it/properties.rs"]
mod properties;
