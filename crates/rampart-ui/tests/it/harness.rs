//! A real server with the dashboard mounted, and sessions on it.

use std::future::Future;
use std::time::Duration;

use rampart_client::client::Client;
use rampart_client::wire::{EnqueueRequest, FailRequest, KeyCreateRequest, LeaseRequest};
use rampart_core::auth::Role;
use rampart_server::api::AppState;
use rampart_server::config::{Config, MonitoringConfig, UiConfig};
use rampart_server::server::Server;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use tokio::sync::oneshot;

/// Waits until `probe` answers `Some`, for at most 20 seconds.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A running server; stops when dropped.
pub struct App {
    pub url: String,
    pub state: AppState,
    pub admin_key: String,
    pub admin: Client,
    _stop: oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

/// A signed-in browser: its cookie and the CSRF token of its pages.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// An answer: status, `Location` and body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub body: String,
}

impl App {
    /// A server with `edit` applied to its configuration.
    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> App {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            monitoring: MonitoringConfig { interval: Duration::from_secs(1), ..MonitoringConfig::default() },
            ..Config::default()
        };
        edit(&mut config);
        let ui: UiConfig = config.ui.clone();
        let server = Server::start(config).await.unwrap();
        let state = server.state();
        let routes = rampart_ui::router(state.clone(), &ui);
        let server = server.mount(routes);
        let url = format!("http://{}", server.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        let admin_key = std::fs::read_to_string(dir.path().join("data/admin.key")).unwrap().trim().to_string();
        let admin = Client::new(&url, Some(admin_key.clone())).unwrap();
        App { url, state, admin_key, admin, _stop: stop, _dir: dir }
    }

    /// A server with the default configuration.
    pub async fn start() -> App {
        App::start_with(|_| {}).await
    }

    /// A new key with `role`.
    pub async fn key(&self, name: &str, role: Role) -> String {
        self.admin.key_create(&KeyCreateRequest { name: name.into(), role }).await.unwrap().key
    }

    fn http() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let header =
            |name| response.headers().get(name).map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_string());
        let (location, set_cookie) = (header(LOCATION), header(SET_COOKIE));
        Answer { status: response.status(), location, set_cookie, body: response.text().await.unwrap() }
    }

    /// Posts the sign-in form with `key`.
    pub async fn sign_in_raw(&self, key: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = App::http().post(format!("{}/ui/sign-in", self.url)).form(&[("key", key)]);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        App::answer(request.send().await.unwrap()).await
    }

    /// Signs in with `key` and reads the CSRF token off the overview.
    pub async fn sign_in(&self, key: &str) -> Session {
        let answer = self.sign_in_raw(key, &[]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let cookie = answer.set_cookie.unwrap().split(';').next().unwrap().to_string();
        let mut session = Session { cookie, csrf: String::new() };
        let page = self.get(&session, "/ui/").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        session.csrf = csrf_of(&page.body);
        session
    }

    /// GETs `path` with the session's cookie.
    pub async fn get(&self, session: &Session, path: &str) -> Answer {
        let request = App::http().get(format!("{}{path}", self.url)).header(COOKIE, &session.cookie);
        App::answer(request.send().await.unwrap()).await
    }

    /// GETs `path` without a cookie.
    pub async fn get_anonymous(&self, path: &str) -> Answer {
        App::answer(App::http().get(format!("{}{path}", self.url)).send().await.unwrap()).await
    }

    /// POSTs a form to `path` with the session's cookie and its CSRF token.
    pub async fn post(&self, session: &Session, path: &str, form: &[(&str, &str)]) -> Answer {
        let mut fields = vec![("csrf", session.csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(session, path, &fields).await
    }

    /// POSTs exactly `form` to `path` with the session's cookie.
    pub async fn post_raw(&self, session: &Session, path: &str, form: &[(&str, &str)]) -> Answer {
        let request = App::http().post(format!("{}{path}", self.url)).header(COOKIE, &session.cookie).form(form);
        App::answer(request.send().await.unwrap()).await
    }

    /// Enqueues a job that fails its only attempt with `error`: a dead job.
    pub async fn dead_job(&self, queue: &str, payload: &str, error: &str) -> String {
        let id = self.enqueue(queue, payload, 1).await;
        self.kill(queue, &id, error).await
    }

    /// A dead job of `tenant`.
    pub async fn dead_job_with(&self, queue: &str, payload: &str, tenant: &str) -> String {
        let req: EnqueueRequest =
            serde_json::from_str(&format!(r#"{{"payload":{payload},"max_attempts":1,"tenant":"{tenant}"}}"#)).unwrap();
        let id = self.admin.enqueue(queue, &req).await.unwrap().id.to_string();
        self.kill(queue, &id, "boom").await
    }

    /// Leases the queue's jobs and fails `id`'s only attempt.
    async fn kill(&self, queue: &str, id: &str, error: &str) -> String {
        let id = id.to_string();
        let leased = self
            .admin
            .lease(queue, &LeaseRequest { worker: Some("worker-1".into()), ..LeaseRequest::default() })
            .await
            .unwrap();
        let job = leased
            .jobs
            .iter()
            .find(|j| j.id.to_string() == id)
            .unwrap_or_else(|| panic!("{id} not leased: {leased:?}"))
            .clone();
        let fail = FailRequest { lease_token: job.lease_token, error: error.into(), retryable: Some(false) };
        self.admin.fail(&id, &fail).await.unwrap();
        id
    }

    /// Enqueues a job; answers its id.
    pub async fn enqueue(&self, queue: &str, payload: &str, max_attempts: u32) -> String {
        let req: EnqueueRequest =
            serde_json::from_str(&format!(r#"{{"payload":{payload},"max_attempts":{max_attempts}}}"#)).unwrap();
        self.admin.enqueue(queue, &req).await.unwrap().id.to_string()
    }

    /// The job's state as the API shows it.
    pub async fn job_state(&self, id: &str) -> String {
        self.admin.job(id).await.unwrap().state.to_string()
    }
}

/// The CSRF token a page's forms carry.
pub fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("the page has a CSRF field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}
