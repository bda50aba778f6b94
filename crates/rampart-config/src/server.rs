//! The server's own keys: where it listens (`listen`), how large a request
//! may be (`max_payload_bytes`, `max_body_bytes`), how it logs
//! (`log_format`) and how long it takes to stop (`shutdown_grace`).

use std::net::SocketAddr;

use toml::Value;

use crate::check::Check;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Check<'_> {
    /// `listen`: an IP address and port.
    pub(crate) fn listen(&mut self, path: &[String], value: &Value) -> Option<SocketAddr> {
        let s = self.text(path, value)?;
        match s.trim().parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.report(
                    path,
                    format!(
                        "{s:?} is not an IP address and port; write e.g. \"127.0.0.1:7433\", \"0.0.0.0:7433\" or \
                         \"[::]:7433\""
                    ),
                );
                None
            }
        }
    }

    /// `log_format`: `"text"` or `"json"`.
    pub(crate) fn log_format(&mut self, path: &[String], value: &Value) -> Option<LogFormat> {
        self.choice(path, value, "a log format", &[("text", LogFormat::Text), ("json", LogFormat::Json)])
    }

    /// Checks that a payload of `max_payload_bytes` fits in a body of
    /// `max_body_bytes`, blaming the key set by the later layer: that is
    /// the change that broke the pair.
    pub(crate) fn body_limits(&mut self, payload_bytes: usize, body_bytes: usize) {
        if payload_bytes <= body_bytes {
            return;
        }
        let (payload, body) = (vec!["max_payload_bytes".to_string()], vec!["max_body_bytes".to_string()]);
        let fix = "no payload that large could arrive; make max_body_bytes at least max_payload_bytes";
        if self.layer_of(&body) > self.layer_of(&payload) {
            self.report(&body, format!("{body_bytes} is smaller than max_payload_bytes ({payload_bytes}): {fix}"));
        } else {
            self.report(&payload, format!("{payload_bytes} is larger than max_body_bytes ({body_bytes}): {fix}"));
        }
    }
}
