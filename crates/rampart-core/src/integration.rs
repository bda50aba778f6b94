//! The states of an app's connection to a third-party platform, as the app
//! reports them (`PUT /v1/integrations/{platform}/connections/{id}`).

crate::named_enum! {
    /// How a connection stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum IntegrationStatus {
        /// It works.
        Connected = "connected",
        /// Its last call or sync failed.
        Error = "error",
        /// Its credentials ran out; someone must reconnect it.
        Expired = "expired",
    }
    parse_error: IntegrationStatusError = |s| IntegrationStatusError(s.chars().take(64).collect());
}

/// Why a status was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a connection status: use connected, error or expired")]
pub struct IntegrationStatusError(pub String);

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
