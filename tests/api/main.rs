//! Integration tests: the real server on a real socket, against a real
//! MariaDB started by the tests themselves. One binary, a module per feature.

mod helpers;

mod adapters;
mod deploy;
mod diagnostics;
mod execution;
mod export;
mod hardening;
mod hashes;

mod login;
mod masking;
mod more_actions;
mod operations;
mod process;
mod secrets;
mod signup_create;
mod tls;
mod tooling;
mod transport;
mod values;
