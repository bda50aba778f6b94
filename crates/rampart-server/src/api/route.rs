//! The API's routes, built only from the endpoints `rampart_client::endpoint`
//! declares: each route module adds its handlers through [`Routes::add`],
//! which takes the method and path from the declaration and the operation's
//! description from the handler's signature ([`Described`]), and keeps both
//! so the OpenAPI document and the tests see exactly what is served.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use rampart_client::endpoint::{Endpoint, Method};

use super::AppState;
use super::openapi::{Described, Operation};

/// A route served: its endpoint and how its handler describes it.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Its operation, read off the handler's extractors and answer.
    pub operation: fn() -> Operation,
}

/// Routes being built, with the endpoints they serve.
pub(super) struct Routes {
    router: Router<AppState>,
    served: Vec<Served>,
}

impl Routes {
    /// No routes yet.
    pub(super) fn new() -> Routes {
        Routes { router: Router::new(), served: Vec::new() }
    }

    /// Serves `endpoint` (its method on its path) with `handler`.
    pub(super) fn add<H, T>(mut self, endpoint: Endpoint, handler: H) -> Routes
    where
        H: Handler<T, AppState> + Described<T>,
        T: 'static,
    {
        let filter = match endpoint.method {
            Method::Get => MethodFilter::GET,
            Method::Post => MethodFilter::POST,
            Method::Put => MethodFilter::PUT,
            Method::Delete => MethodFilter::DELETE,
        };
        self.router = self.router.route(endpoint.path, on(filter, handler));
        self.served.push(Served { endpoint, operation: <H as Described<T>>::operation });
        self
    }

    /// These routes and `other`'s.
    pub(super) fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.served.extend(other.served);
        self
    }

    /// The router and the routes it serves.
    pub(super) fn into_parts(self) -> (Router<AppState>, Vec<Served>) {
        (self.router, self.served)
    }
}
