//! customdb hosts an operator's Rhai connector scripts against their legacy
//! MySQL/MariaDB user table and serves them to an identity core over HTTP:
//! request → validated action input → script run → normalized profile →
//! response.

#![deny(unsafe_code)]

pub mod actions;
pub mod commands;
pub mod connection;
pub mod error;
pub mod export;
pub mod http;
pub mod inflight;
pub mod metadata;
pub mod password;
pub mod profile;
#[cfg(test)]
mod proptests;
pub mod reload;
pub mod script;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use error::{Error, Result};
pub use settings::Settings;
pub use startup::Application;
