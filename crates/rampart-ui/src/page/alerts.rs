//! Alerts: the firing ones first, then the resolved ones in pages (newest
//! first, by cursor), the silences in force, and the admin's buttons:
//! acknowledge an alert, silence a rule or a subject for a while.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use rampart_core::alert::{AlertId, AlertRule, AlertState};
use rampart_core::auth::Action;
use rampart_core::duration::HumanDuration;
use rampart_store::{AlertListParams, AlertRecord, SilenceInsert};
use serde::Deserialize;

use super::done;
use crate::Ui;
use crate::audit;
use crate::error::UiError;
use crate::format;
use crate::layout::{self, Nav};
use crate::session::Viewer;

/// Alerts per list.
const PAGE: u32 = 50;

/// The query of the alerts page.
#[derive(Debug, Default, Deserialize)]
pub struct AlertsQuery {
    /// The last id of the previous page of resolved alerts.
    pub before: Option<String>,
    /// What an action did.
    pub done: Option<String>,
}

fn alert_id(raw: &str) -> Result<AlertId, UiError> {
    raw.parse().map_err(|e: rampart_core::alert::AlertIdError| UiError::invalid(e.to_string()))
}

/// `GET …/alerts`.
pub async fn show(State(ui): State<Ui>, viewer: Viewer, Query(q): Query<AlertsQuery>) -> Result<Response, UiError> {
    let store = ui.app.engine.store();
    let before = q.before.as_deref().filter(|b| !b.is_empty()).map(alert_id).transpose()?;
    let firing = store.alert_list(AlertListParams { state: Some(AlertState::Firing), before: None, limit: PAGE });
    let resolved = store.alert_list(AlertListParams { state: Some(AlertState::Resolved), before, limit: PAGE });
    let silences = store.silence_list(ui.app.engine.now());
    let (firing, resolved, silences) = tokio::join!(firing, resolved, silences);
    let (firing, resolved, silences) = (firing?, resolved?, silences?);
    let admin = viewer.may(Action::Admin);
    let body = html! {
        h1 { "Alerts" }
        (layout::notice(q.done.as_deref()))
        h2 { "Firing" }
        (alert_table(&ui, &viewer, &firing, admin))
        h2 { "Silences in force" }
        @if silences.is_empty() {
            p.muted { "None." }
        } @else {
            ul {
                @for s in &silences {
                    li {
                        (s.rule.map(|r| r.to_string()).unwrap_or_else(|| "every rule".into())) " on "
                        (s.subject.clone().unwrap_or_else(|| "every subject".into()))
                        " until " (format::when(s.ends_at)) ", by " (s.created_by) ": " (s.reason)
                    }
                }
            }
        }
        @if admin {
            details.card {
                summary { "Silence alerts…" }
                form method="post" action=(ui.url("/alerts/silence")) {
                    (layout::csrf(&viewer))
                    div.field {
                        label for="rule" { "Rule" }
                        select #rule name="rule" {
                            option value="" { "every rule" }
                            @for r in AlertRule::ALL { option value=(r) { (r) } }
                        }
                    }
                    div.field {
                        label for="subject" { "Subject (a queue's name, a breaker's, `store`; empty for all)" }
                        input #subject type="text" name="subject";
                    }
                    div.field {
                        label for="duration" { "For how long (\"2h\", \"30m\")" }
                        input #duration type="text" name="duration" value="1h" required;
                    }
                    div.field {
                        label for="reason" { "Why" }
                        input #reason type="text" name="reason" required;
                    }
                    button.primary type="submit" { "Silence" }
                }
            }
        }
        h2 { "Resolved" }
        (alert_table(&ui, &viewer, &resolved, false))
        nav.pager aria-label="Pages" {
            @if before.is_some() { a href=(ui.url("/alerts")) { "Newest" } }
            @if resolved.len() == PAGE as usize && let Some(last) = resolved.last() {
                a href=(ui.url(&format!("/alerts?before={}", last.id))) { "Older" }
            }
        }
    };
    Ok(layout::page(&ui, &viewer, Nav::Alerts, "Alerts", body))
}

fn alert_table(ui: &Ui, viewer: &Viewer, alerts: &[AlertRecord], admin: bool) -> Markup {
    html! {
        @if alerts.is_empty() {
            p.muted { "None." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "Alert" } th scope="col" { "Subject" } th.num scope="col" { "Value" }
                    th scope="col" { "Since" } th scope="col" { "Acknowledged" }
                } }
                tbody {
                    @for a in alerts {
                        tr id={ "alert-" (a.id) } {
                            td { span class={ "state state-" (a.state) } { (a.state) } " " (a.rule) }
                            td { (subject_link(ui, a)) }
                            td.num { (a.rule.format_value(a.value)) " / " (a.rule.format_value(a.threshold)) }
                            td { (format::when(a.started_at)) }
                            td {
                                @if let Some(by) = &a.acked_by {
                                    "by " (by) " " (format::when_opt(a.acked_at))
                                } @else if admin && a.state == AlertState::Firing {
                                    (layout::button(ui, viewer, &format!("/alerts/{}/ack", a.id), "Acknowledge", "primary"))
                                } @else {
                                    span.muted { "no" }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

/// The subject, linked to its page when it is a queue.
fn subject_link(ui: &Ui, a: &AlertRecord) -> Markup {
    let queue_rule = matches!(
        a.rule,
        AlertRule::QueueWaiting | AlertRule::QueueFailedRate | AlertRule::QueueStalled | AlertRule::DeadLetters
    );
    html! {
        @if queue_rule {
            a href=(ui.url(&format!("/queues/{}", super::encode(&a.subject)))) { code { (a.subject) } }
        } @else {
            code { (a.subject) }
        }
    }
}

/// The acknowledge form: only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    /// The session's CSRF token.
    pub csrf: Option<String>,
}

/// `POST …/alerts/{id}/ack`.
pub async fn ack(
    State(ui): State<Ui>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<AckForm>,
) -> Result<Response, UiError> {
    viewer.authorize(form.csrf.as_deref(), Action::Admin)?;
    let id = alert_id(&id)?;
    let by = viewer.session.key_name.clone();
    let acked = ui.app.engine.store().alert_ack(id, by.clone(), ui.app.engine.now()).await?;
    let Some(alert) = acked else {
        return Err(UiError::not_found(format!("no alert {id}; it may have been pruned")));
    };
    let message = format!("acknowledged {} on {}", alert.rule, alert.subject);
    audit::record(&ui, &by, "alert.ack", &id.to_string(), message.clone()).await;
    Ok(done(&ui, "/alerts", &message))
}

/// The silence form.
#[derive(Debug, Deserialize)]
pub struct SilenceForm {
    /// The session's CSRF token.
    pub csrf: Option<String>,
    /// One rule, or empty for every rule.
    #[serde(default)]
    pub rule: String,
    /// One subject, or empty for every subject.
    #[serde(default)]
    pub subject: String,
    /// How long.
    #[serde(default)]
    pub duration: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// The longest silence and reason, as the API allows them.
const MAX_SILENCE: std::time::Duration = std::time::Duration::from_secs(3650 * 86_400);
const MAX_REASON: usize = 1000;

/// `POST …/alerts/silence`.
pub async fn silence(State(ui): State<Ui>, viewer: Viewer, Form(form): Form<SilenceForm>) -> Result<Response, UiError> {
    viewer.authorize(form.csrf.as_deref(), Action::Admin)?;
    let rule = match form.rule.trim() {
        "" => None,
        r => Some(r.parse::<AlertRule>().map_err(|e| UiError::invalid(format!("invalid rule: {e}")))?),
    };
    let subject = Some(form.subject.trim().to_string()).filter(|s| !s.is_empty());
    if subject.as_ref().is_some_and(|s| s.len() > 128) {
        return Err(UiError::invalid("the subject is at most 128 bytes: a queue's name, a breaker's, or `store`"));
    }
    let duration: HumanDuration = form
        .duration
        .trim()
        .parse()
        .map_err(|e| UiError::invalid(format!("invalid duration: {e}; give one like \"2h\"")))?;
    let duration = duration.get();
    if duration.is_zero() || duration > MAX_SILENCE {
        return Err(UiError::invalid("the duration must be more than 0s and at most 3650d"));
    }
    let reason = form.reason.trim().to_string();
    if reason.is_empty() || reason.len() > MAX_REASON {
        return Err(UiError::invalid(format!("say why in 1 to {MAX_REASON} bytes")));
    }
    let now = ui.app.engine.now();
    let by = viewer.session.key_name.clone();
    let insert = SilenceInsert { rule, subject, ends_at: now.plus(duration), created_by: by.clone(), reason, now };
    let silence = ui.app.engine.store().silence_insert(insert).await?;
    let message = format!("silenced until {}", format::time(silence.ends_at));
    audit::record(&ui, &by, "alert.silence", &silence.id.to_string(), message.clone()).await;
    Ok(done(&ui, "/alerts", &message))
}
