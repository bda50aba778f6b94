//! What each route's handler says about itself: the extractors it takes
//! and the answer it returns describe its operation, so the document is
//! read off the handler's signature and cannot drift from it. A handler
//! that takes [`Auth<P>`] is documented with the roles that allow `P`, one
//! that takes [`Body<T>`] with `T`'s schema, and so on; a route whose
//! handler changes is documented differently at the next build.

use std::collections::BTreeSet;
use std::future::Future;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use rampart_core::auth::Role;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{IntoParams, ToSchema};

use super::super::AppState;
use super::super::error::ApiError;
use super::super::extract::{Auth, Body, Permission};

/// A schema with the named schemas it refers to.
#[derive(Clone)]
pub struct Named {
    /// The schema, or a reference to one in `components`.
    pub schema: RefOr<Schema>,
    /// Every named schema it needs, with its own.
    pub components: Vec<(String, RefOr<Schema>)>,
}

impl Named {
    /// `T`'s schema, as a reference to its named entry.
    pub fn of<T: ToSchema>() -> Named {
        let mut components = vec![(T::name().into_owned(), T::schema())];
        T::schemas(&mut components);
        Named { schema: RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name())), components }
    }
}

/// One operation as its handler describes it.
#[derive(Clone, Default)]
pub struct Operation {
    /// The roles that may call it; `None` when it is open (no key).
    pub roles: Option<Vec<Role>>,
    /// Its JSON request body.
    pub body: Option<Named>,
    /// Its query parameters.
    pub query: Vec<Parameter>,
    /// The JSON body of its successful answer; `None` for no body.
    pub answer: Option<Named>,
    /// Whether it takes path parameters (each named by its path).
    pub has_path: bool,
    /// The error statuses it can answer.
    pub errors: BTreeSet<u16>,
}

/// An extractor's part of an operation.
pub trait Input {
    /// Adds what the extractor takes and how it can fail.
    fn describe(op: &mut Operation);
}

/// An answer's part of an operation.
pub trait Answer {
    /// Adds the answer's body.
    fn describe(op: &mut Operation);
}

/// A handler whose every extractor and whose answer describe themselves.
pub trait Described<T> {
    /// The handler's operation.
    fn operation() -> Operation {
        let mut op = Operation::default();
        Self::describe(&mut op);
        op
    }

    /// Adds each extractor's part and the answer's.
    fn describe(op: &mut Operation);
}

/// Implements [`Described`] for handlers of each arity, matching the tuple
/// of extractor types axum's `Handler` is implemented for.
macro_rules! described {
    ($($t:ident),*) => {
        impl<F, Fut, R, M, $($t,)*> Described<(M, $($t,)*)> for F
        where
            F: FnOnce($($t,)*) -> Fut,
            Fut: Future<Output = R>,
            R: Answer,
            $($t: Input,)*
        {
            fn describe(op: &mut Operation) {
                $($t::describe(op);)*
                R::describe(op);
            }
        }
    };
}

described!(T1);
described!(T1, T2);
described!(T1, T2, T3);
described!(T1, T2, T3, T4);
described!(T1, T2, T3, T4, T5);

impl<F, Fut, R> Described<((),)> for F
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = R>,
    R: Answer,
{
    fn describe(op: &mut Operation) {
        R::describe(op);
    }
}

impl Input for State<AppState> {
    fn describe(_: &mut Operation) {}
}

impl<P: Permission> Input for Auth<P> {
    fn describe(op: &mut Operation) {
        op.roles = Some(Role::ALL.into_iter().filter(|r| r.allows(P::ACTION)).collect());
        // No key or a wrong one; a role that may not; the store down while the key is checked.
        op.errors.extend([401, 403, 503]);
    }
}

impl<T: ToSchema> Input for Body<T> {
    fn describe(op: &mut Operation) {
        op.body = Some(Named::of::<T>());
        // Invalid; sent too slowly; too large; not JSON.
        op.errors.extend([400, 408, 413, 415]);
    }
}

impl<T> Input for Path<T> {
    fn describe(op: &mut Operation) {
        op.has_path = true;
        // A malformed name or id; no such thing.
        op.errors.extend([400, 404]);
    }
}

impl<T: IntoParams> Input for Result<Query<T>, QueryRejection> {
    fn describe(op: &mut Operation) {
        op.query.extend(T::into_params(|| Some(ParameterIn::Query)));
        op.errors.insert(400);
    }
}

impl Input for HeaderMap {
    fn describe(_: &mut Operation) {}
}

/// The whole request: what the route reads from it is documented by the
/// route's own [`super::special`] entry.
impl Input for Request {
    fn describe(_: &mut Operation) {}
}

impl<T: ToSchema> Answer for Json<T> {
    fn describe(op: &mut Operation) {
        op.answer = Some(Named::of::<T>());
    }
}

impl<T: ToSchema> Answer for (StatusCode, Json<T>) {
    fn describe(op: &mut Operation) {
        Json::<T>::describe(op);
    }
}

impl<T: ToSchema> Answer for (StatusCode, HeaderMap, Json<T>) {
    fn describe(op: &mut Operation) {
        Json::<T>::describe(op);
    }
}

impl<T: ToSchema> Answer for (HeaderMap, Json<T>) {
    fn describe(op: &mut Operation) {
        Json::<T>::describe(op);
    }
}

/// No body (`204`).
impl Answer for StatusCode {
    fn describe(_: &mut Operation) {}
}

/// An answer built by hand: its route's [`super::special`] entry says what it is.
impl Answer for Response {
    fn describe(_: &mut Operation) {}
}

impl<T: Answer> Answer for Result<T, ApiError> {
    fn describe(op: &mut Operation) {
        T::describe(op);
        op.errors.insert(503);
    }
}
