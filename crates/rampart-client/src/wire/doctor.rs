//! The shape of `GET /v1/admin/doctor`: a deployment's launch checklist,
//! one row per check.

use serde::{Deserialize, Serialize};

/// `GET /v1/admin/doctor`: every check of the deployment, in a fixed order.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoctorReport {
    /// True when no check failed (warnings allowed): what a deploy gates on.
    pub ok: bool,
    /// Checks that passed.
    pub passed: u32,
    /// Checks that warned.
    pub warned: u32,
    /// Checks that failed.
    pub failed: u32,
    /// Every check, in order.
    pub checks: Vec<DoctorCheck>,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoctorCheck {
    /// What was checked, e.g. `store`, `loops`, `alerts.channels`.
    pub name: String,
    /// `pass`, `warn` or `fail`.
    #[schema(pattern = "^(pass|warn|fail)$")]
    pub status: String,
    /// How long the check took, in milliseconds.
    #[schema(minimum = 0.0)]
    pub duration_ms: f64,
    /// What was found, for people; never a secret.
    pub detail: String,
}
