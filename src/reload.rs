//! Live reload: on SIGHUP the settings file is read again for the API tokens
//! and every connection's scripts are loaded again; a connection with
//! `watch = true` also reloads when a file in its scripts folder changes.
//! Other settings take a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use crate::connection::Connection;
use crate::http::AppState;
use crate::settings::Settings;

/// How often a watched folder is looked at.
const WATCH_EVERY: Duration = Duration::from_millis(300);

/// Reads the settings again for the tokens, and reloads every connection's
/// scripts. A settings file that no longer loads changes nothing.
pub fn reload_all(state: &AppState, source: Option<&Path>) {
    match Settings::load(source) {
        // The listener stays where it is, whatever the file now says of
        // `listen` or `allow_no_token`: a server that asks for a token
        // keeps asking for one.
        Ok(settings) if settings.http.api_tokens.is_empty() && state.has_tokens() => {
            tracing::error!(
                "reload: the settings were not taken: http.api_tokens: no token configured; \
                 a server that asks for a token keeps at least one"
            );
        }
        Ok(settings) => state.set_tokens(settings.http.api_tokens),
        Err(e) => tracing::error!("reload: the settings were not taken: {e}"),
    }
    for connection in state.connections() {
        let _ = connection.reload_scripts();
    }
}

/// Starts the SIGHUP listener and a watcher per connection with `watch`.
pub fn start(state: AppState, source: Option<PathBuf>) {
    for connection in state.connections() {
        if connection.settings.tunables.watch {
            watch(Arc::downgrade(connection));
        }
    }
    // The handler is installed now, before the listener says it listens:
    // a SIGHUP right after the start reloads rather than ends the process.
    #[cfg(unix)]
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("SIGHUP cannot be listened to: reload needs a restart");
        return;
    };
    #[cfg(unix)]
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading");
            let state = state.clone();
            let source = source.clone();
            let _ =
                tokio::task::spawn_blocking(move || reload_all(&state, source.as_deref())).await;
        }
    });
}

/// The `.rhai` files below `dir`, with their sizes and times.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut out = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rhai") {
                out.push((path, meta.len(), meta.modified().ok()));
            }
        }
    }
    out.sort();
    out
}

/// Polls the connection's scripts folder on a thread of its own, and
/// reloads once a change has settled (two looks alike). Ends when the
/// connection is dropped.
fn watch(connection: Weak<Connection>) {
    let Some(dir) = connection.upgrade().map(|c| c.settings.scripts_dir.clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut taken = fingerprint(&dir);
        loop {
            std::thread::sleep(WATCH_EVERY);
            let seen = fingerprint(&dir);
            if seen == taken {
                continue;
            }
            std::thread::sleep(WATCH_EVERY);
            if fingerprint(&dir) != seen {
                continue;
            }
            let Some(connection) = connection.upgrade() else {
                return;
            };
            tracing::info!(
                connection = connection.name(),
                "a script changed: reloading"
            );
            let _ = connection.reload_scripts();
            taken = seen;
        }
    });
}
