//! Counts and latencies of the API's own requests, by matched route (the
//! route's pattern, `/v1/jobs/{id}`, never the raw path: one series per
//! route, not per job), method and status.
//!
//! One lock and one lookup per request; a series is allocated only the
//! first time its route, method and status meet.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::Monitor;

/// Upper bounds of the request-latency buckets, in seconds.
pub const LATENCY_BOUNDS_S: [f64; 15] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// Requests of one route, method and status.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSeries {
    /// The route's pattern.
    pub route: String,
    /// The method.
    pub method: Method,
    /// The status answered.
    pub status: u16,
    /// How many.
    pub count: u64,
    /// Their latencies summed, in seconds.
    pub sum_seconds: f64,
    /// How many took at most each bound of [`LATENCY_BOUNDS_S`] (not
    /// cumulative), and a last bucket for the longer ones.
    pub buckets: [u64; LATENCY_BOUNDS_S.len() + 1],
}

#[derive(Debug, Clone)]
struct Series {
    method: Method,
    status: u16,
    count: u64,
    sum_seconds: f64,
    buckets: [u64; LATENCY_BOUNDS_S.len() + 1],
}

/// The request counters of this node since it started.
#[derive(Default)]
pub struct HttpMetrics {
    routes: Mutex<HashMap<Box<str>, Vec<Series>>>,
}

impl HttpMetrics {
    /// Counts one request.
    pub fn record(&self, route: &str, method: &Method, status: u16, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BOUNDS_S.partition_point(|&bound| bound < seconds);
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let series = match routes.get_mut(route) {
            Some(series) => series,
            None => routes.entry(route.into()).or_default(),
        };
        let one = match series.iter().position(|s| s.status == status && s.method == method) {
            Some(i) => &mut series[i],
            None => {
                series.push(Series {
                    method: method.clone(),
                    status,
                    count: 0,
                    sum_seconds: 0.0,
                    buckets: [0; LATENCY_BOUNDS_S.len() + 1],
                });
                let last = series.len() - 1;
                &mut series[last]
            }
        };
        one.count += 1;
        one.sum_seconds += seconds;
        one.buckets[bucket] += 1;
    }

    /// Every series, by route, method and status.
    pub fn series(&self) -> Vec<HttpSeries> {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<HttpSeries> = routes
            .iter()
            .flat_map(|(route, series)| {
                series.iter().map(move |s| HttpSeries {
                    route: route.to_string(),
                    method: s.method.clone(),
                    status: s.status,
                    count: s.count,
                    sum_seconds: s.sum_seconds,
                    buckets: s.buckets,
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.route, a.method.as_str(), a.status).cmp(&(&b.route, b.method.as_str(), b.status)));
        out
    }
}

/// The middleware that counts every request the router answers into the
/// monitor's [`HttpMetrics`], the own API limits' refusals included.
pub(crate) async fn count_requests(State(monitor): State<Monitor>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    // Any token is a method to HTTP: only the standard ones become labels,
    // so a client cannot grow the series without bound.
    let method = match *req.method() {
        Method::GET | Method::POST | Method::PUT | Method::DELETE | Method::PATCH | Method::HEAD | Method::OPTIONS => {
            req.method().clone()
        }
        _ => other_method(),
    };
    let response = next.run(req).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    monitor.http().record(route, &method, response.status().as_u16(), started.elapsed());
    response
}

/// The label of every method outside the standard ones.
fn other_method() -> Method {
    Method::from_bytes(b"OTHER").unwrap_or(Method::GET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_count_per_route_method_and_status_in_their_bucket() {
        let m = HttpMetrics::default();
        m.record("/v1/jobs/{id}", &Method::GET, 200, Duration::from_micros(300));
        m.record("/v1/jobs/{id}", &Method::GET, 200, Duration::from_millis(1));
        m.record("/v1/jobs/{id}", &Method::GET, 404, Duration::from_secs(60));
        m.record("/health", &Method::GET, 200, Duration::from_millis(3));
        let series = m.series();
        let shown: Vec<(&str, u16, u64)> = series.iter().map(|s| (s.route.as_str(), s.status, s.count)).collect();
        assert_eq!(shown, [("/health", 200, 1), ("/v1/jobs/{id}", 200, 2), ("/v1/jobs/{id}", 404, 1)]);
        assert_eq!(series[1].buckets[0..2], [1, 1], "0.3 ms and exactly 1 ms");
        assert_eq!(series[2].buckets[LATENCY_BOUNDS_S.len()], 1, "past every bound");
        assert!((series[1].sum_seconds - 0.0013).abs() < 1e-9);
    }
}
