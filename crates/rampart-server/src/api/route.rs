//! The API's routes, built only from the endpoints `rampart_client::endpoint`
//! declares: each route module adds its handlers through [`Routes::add`],
//! which takes the method and path from the declaration, and the set of
//! endpoints added is kept so a test can check it is exactly the declared one.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use rampart_client::endpoint::{Endpoint, Method};

use super::AppState;

/// Routes being built, with the endpoints they serve.
pub(super) struct Routes {
    router: Router<AppState>,
    endpoints: Vec<Endpoint>,
}

impl Routes {
    /// No routes yet.
    pub(super) fn new() -> Routes {
        Routes { router: Router::new(), endpoints: Vec::new() }
    }

    /// Serves `endpoint` (its method on its path) with `handler`.
    pub(super) fn add<H, T>(mut self, endpoint: Endpoint, handler: H) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match endpoint.method {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        };
        self.router = self.router.route(endpoint.path, on(filter, handler));
        self.endpoints.push(endpoint);
        self
    }

    /// These routes and `other`'s.
    pub(super) fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.endpoints.extend(other.endpoints);
        self
    }

    /// The router and the endpoints it serves.
    pub(super) fn into_parts(self) -> (Router<AppState>, Vec<Endpoint>) {
        (self.router, self.endpoints)
    }
}
