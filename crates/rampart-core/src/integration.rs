//! The states of an app's connection to a third-party platform, as the app
//! reports them (`PUT /v1/integrations/{platform}/connections/{id}`).

use std::fmt;
use std::str::FromStr;

/// How a connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrationStatus {
    /// It works.
    Connected,
    /// Its last call or sync failed.
    Error,
    /// Its credentials ran out; someone must reconnect it.
    Expired,
}

impl IntegrationStatus {
    /// Every status.
    pub const ALL: [IntegrationStatus; 3] =
        [IntegrationStatus::Connected, IntegrationStatus::Error, IntegrationStatus::Expired];

    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationStatus::Connected => "connected",
            IntegrationStatus::Error => "error",
            IntegrationStatus::Expired => "expired",
        }
    }
}

impl fmt::Display for IntegrationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a status was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a connection status: use connected, error or expired")]
pub struct IntegrationStatusError(pub String);

impl FromStr for IntegrationStatus {
    type Err = IntegrationStatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IntegrationStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| IntegrationStatusError(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_their_names_only() {
        for status in IntegrationStatus::ALL {
            assert_eq!(status.as_str().parse::<IntegrationStatus>(), Ok(status));
        }
        for bad in ["", "Connected", "ok", "expired "] {
            assert!(bad.parse::<IntegrationStatus>().unwrap_err().to_string().contains("connected, error or expired"));
        }
    }
}
