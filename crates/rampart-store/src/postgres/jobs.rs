//! STUB: being written.
#![allow(unused)]
use rampart_core::id::{JobId, QueueName};
use rampart_core::time::UnixMillis;

use super::Client;
use crate::error::StoreError;
use crate::job::*;
use crate::queue::{QueueCounts, QueueRecord};

fn stub<T>() -> Result<T, StoreError> { Err(StoreError::Internal("STUB".into())) }
pub(super) async fn insert_many(c: &mut Client, node: &str, p: &JobInsertParams) -> Result<Vec<JobInserted>, StoreError> { stub() }
pub(super) async fn lease(c: &mut Client, p: &JobLeaseParams) -> Result<Vec<LeasedJob>, StoreError> { stub() }
pub(super) async fn heartbeat(c: &mut Client, p: &JobHeartbeatParams) -> Result<UnixMillis, StoreError> { stub() }
pub(super) async fn ack_many(c: &mut Client, node: &str, p: &JobAckParams) -> Result<Vec<Result<JobAcked, StoreError>>, StoreError> { stub() }
pub(super) async fn get(c: &mut Client, id: JobId) -> Result<Option<JobRecord>, StoreError> { stub() }
pub(super) async fn list(c: &mut Client, p: &JobListParams) -> Result<Vec<JobRecord>, StoreError> { stub() }
pub(super) async fn retry(c: &mut Client, node: &str, id: JobId, now: UnixMillis) -> Result<JobRetried, StoreError> { stub() }
pub(super) async fn cancel(c: &mut Client, id: JobId, now: UnixMillis) -> Result<(), StoreError> { stub() }
pub(super) async fn retry_dead(c: &mut Client, node: &str, p: &JobRetryDeadParams) -> Result<JobRetryDeadPage, StoreError> { stub() }
pub(super) async fn purge_dead(c: &mut Client, q: &QueueName, limit: u32) -> Result<u64, StoreError> { stub() }
pub(super) async fn reap(c: &mut Client, p: &JobReapParams) -> Result<Vec<JobReaped>, StoreError> { stub() }
pub(super) async fn promote_due(c: &mut Client, node: &str, now: UnixMillis, limit: u32) -> Result<Vec<(QueueName, u64)>, StoreError> { stub() }
pub(super) async fn next_due(c: &mut Client) -> Result<Option<UnixMillis>, StoreError> { stub() }
pub(super) async fn queue_counts(c: &mut Client) -> Result<Vec<QueueCounts>, StoreError> { stub() }
pub(super) async fn queue_list(c: &mut Client) -> Result<Vec<QueueRecord>, StoreError> { stub() }
pub(super) async fn queue_ensure(c: &mut Client, names: &[QueueName], now: UnixMillis) -> Result<(), StoreError> { stub() }
pub(super) async fn queue_set_paused(c: &mut Client, node: &str, name: &QueueName, paused: bool, now: UnixMillis) -> Result<(), StoreError> { stub() }
