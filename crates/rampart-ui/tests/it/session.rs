//! Signing in and out: the cookie's attributes, the session ended on the
//! server, a revoked key's session refused, five wrong keys limited.

use rampart_core::auth::Role;
use reqwest::StatusCode;

use crate::harness::App;

#[tokio::test]
async fn sign_in_sets_a_strict_http_only_expiring_cookie_and_sign_out_ends_the_session() {
    let app = App::start().await;
    let answer = app.sign_in_raw(&app.admin_key, &[]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location.as_deref(), Some("/ui/"));
    let cookie = answer.set_cookie.unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=28800"] {
        assert!(cookie.contains(attribute), "{attribute} missing from {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP from an untrusted peer: not Secure: {cookie}");

    let session = app.sign_in(&app.admin_key).await;
    assert_eq!(app.get(&session, "/ui/").await.status, StatusCode::OK);
    let out = app.post(&session, "/ui/sign-out", &[]).await;
    assert_eq!((out.status, out.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/sign-in")));
    assert!(out.set_cookie.unwrap().contains("Max-Age=0"), "the cookie is cleared");
    // The old cookie no longer opens anything: the session ended on the server.
    let after = app.get(&session, "/ui/").await;
    assert_eq!((after.status, after.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/sign-in")));
}

#[tokio::test]
async fn behind_a_trusted_proxy_saying_https_the_cookie_is_secure() {
    let app = App::start_with(|c| c.ratelimit.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let answer = app.sign_in_raw(&app.admin_key, &[("x-forwarded-proto", "https")]).await;
    assert!(answer.set_cookie.unwrap().contains("; Secure"));
    let plain = app.sign_in_raw(&app.admin_key, &[("x-forwarded-proto", "http")]).await;
    assert!(!plain.set_cookie.unwrap().contains("Secure"));
}

#[tokio::test]
async fn a_session_of_a_revoked_key_is_refused_at_once() {
    let app = App::start().await;
    let key = app.key("ops", Role::Admin).await;
    let session = app.sign_in(&key).await;
    assert_eq!(app.get(&session, "/ui/").await.status, StatusCode::OK);
    app.admin.key_revoke("ops").await.unwrap();
    for path in ["/ui/", "/ui/alerts", "/ui/live/overview"] {
        let answer = app.get(&session, path).await;
        assert_eq!((answer.status, answer.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/sign-in")), "{path}");
    }
    let post = app.post(&session, "/ui/queues/q/pause", &[]).await;
    assert_eq!(post.status, StatusCode::SEE_OTHER, "a revoked key's POST goes to sign-in too");
    let again = app.sign_in_raw(&key, &[]).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
}

#[tokio::test]
async fn five_wrong_keys_from_one_address_are_limited_then_even_a_good_key_waits() {
    let app = App::start().await;
    for n in 0..5 {
        let answer = app.sign_in_raw(&format!("rk_wrong{n}"), &[]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "attempt {n}");
        assert!(answer.body.contains("not valid"), "{}", answer.body);
        assert!(answer.set_cookie.is_none());
    }
    let limited = app.sign_in_raw(&app.admin_key, &[]).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.body);
    assert!(limited.body.contains("too many wrong keys"), "{}", limited.body);
    assert!(limited.set_cookie.is_none());
}

#[tokio::test]
async fn pages_without_a_session_send_to_sign_in_and_assets_need_none() {
    let app = App::start().await;
    for path in ["/ui/", "/ui/queues/emails", "/ui/jobs/x", "/ui/audit", "/ui/live/overview"] {
        let answer = app.get_anonymous(path).await;
        assert_eq!((answer.status, answer.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/sign-in")), "{path}");
    }
    // A fragment htmx polls sends the whole page to sign in, not itself.
    let request = reqwest::Client::new().get(format!("{}/ui/live/overview", app.url)).header("hx-request", "true");
    let fragment = request.send().await.unwrap();
    assert_eq!(fragment.headers()["hx-redirect"], "/ui/sign-in");
    let bare = app.get_anonymous("/ui").await;
    assert_eq!((bare.status, bare.location.as_deref()), (StatusCode::SEE_OTHER, Some("/ui/")));
    let form = app.get_anonymous("/ui/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<label for=\"key\">"), "the key field has a label: {}", form.body);
    let htmx = app.get_anonymous("/ui/assets/htmx.min.js").await;
    assert!(htmx.status.is_success() && htmx.body.starts_with("var htmx="), "htmx is served from the binary");
    assert!(app.get_anonymous("/ui/assets/style.css").await.body.contains("max-width: 600px"));
    // The API is untouched: its own answers, its own fallback.
    assert_eq!(app.get_anonymous("/health").await.status, StatusCode::OK);
    assert!(app.get_anonymous("/nope").await.body.contains("\"code\""));
}

#[tokio::test]
async fn a_dashboard_moved_to_another_prefix_is_served_there() {
    let app = App::start_with(|c| c.ui.prefix = "/ops/dash".into()).await;
    assert_eq!(app.get_anonymous("/ops/dash/sign-in").await.status, StatusCode::OK);
    let answer = app.sign_in_raw(&app.admin_key, &[]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "the form moved with the prefix");
}
