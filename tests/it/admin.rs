//! The board's side: approving, rejecting, suspending, roles, the outbox and
//! the audit log, through the JSON API; and `karvan admin create`.

use serde_json::{json, Value};

use crate::accounts::make_admin;
use crate::email::fast_mail;
use crate::helpers::{problem, spawn_app_with, TestApp};
use crate::mail_server::TestSmtp;

struct Board {
    app: TestApp,
    smtp: TestSmtp,
    admin_token: String,
}

impl Board {
    async fn start() -> Self {
        let smtp = TestSmtp::start();
        let app = spawn_app_with(|vars| fast_mail(vars, Some(&smtp.url()))).await;
        make_admin(&app, "board@alumni.test").await;
        let admin_token = token(&app, "board@alumni.test", "Board member 2026").await;
        Board { app, smtp, admin_token }
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .request(method, format!("{}{path}", self.app.address))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
        self.call(method, path, &self.admin_token, body).await
    }

    /// A member who signed up and verified their address: pending approval.
    async fn applicant(&self, email: &str) -> String {
        let before = self.smtp.received().len();
        let response = self
            .app
            .post_json(
                "/api/v1/auth/register",
                &json!({"email": email, "password": "Caravan of 2019!", "full_name": "Applicant"}),
            )
            .await;
        assert_eq!(response.status(), 202);
        let mail = self.smtp.wait_for(before + 1).await;
        let token = mail
            .iter()
            .rev()
            .find(|m| m.to == vec![email.to_string()])
            .expect("the verification mail")
            .link_token("/verify-email");
        let verified: Value = self
            .app
            .post_json("/api/v1/auth/verify-email", &json!({"token": token}))
            .await
            .json()
            .await
            .unwrap();
        verified["id"].as_str().unwrap().to_string()
    }
}

async fn token(app: &TestApp, email: &str, password: &str) -> String {
    let tokens: Value = app
        .post_json("/api/v1/auth/login", &json!({"email": email, "password": password}))
        .await
        .json()
        .await
        .unwrap();
    tokens["access_token"].as_str().unwrap().to_string()
}

use reqwest::Method;

#[tokio::test]
async fn an_admin_approves_an_applicant_who_is_welcomed_and_audited() {
    let board = Board::start().await;
    let id = board.applicant("sana@example.org").await;

    let pending: Value = board
        .admin(Method::GET, "/api/v1/admin/members?status=pending_approval", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["total"], 1);
    assert_eq!(pending["items"][0]["email"], "sana@example.org");

    let approved = board
        .admin(Method::POST, &format!("/api/v1/admin/members/{id}/approve"), None)
        .await;
    assert_eq!(approved.status(), 200);
    let member: Value = approved.json().await.unwrap();
    assert_eq!(member["status"], "active");
    assert!(member["approved_at"].is_string());
    let mail = board.smtp.wait_for(3).await;
    let welcome = mail
        .iter()
        .find(|m| m.to == vec!["sana@example.org".to_string()] && m.header("Subject").unwrap().starts_with("Welcome"));
    assert!(welcome.is_some(), "the welcome mail");

    // The same decision twice conflicts; the applicant may now sign in as active.
    problem(
        board
            .admin(Method::POST, &format!("/api/v1/admin/members/{id}/approve"), None)
            .await,
        409,
    )
    .await;
    let member_token = token(&board.app, "sana@example.org", "Caravan of 2019!").await;
    let me: Value = board
        .call(Method::GET, "/api/v1/me", &member_token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["status"], "active");

    let log: Value = board
        .admin(Method::GET, "/api/v1/admin/audit-log", None)
        .await
        .json()
        .await
        .unwrap();
    let approval = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "member.approve")
        .expect("the approval is audited");
    assert_eq!(approval["actor"], "board@alumni.test");
    assert_eq!(approval["target_id"], id);
    assert_eq!(approval["details"]["from"], "pending_approval");
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "members.list"),
        "viewing records is audited"
    );
}

#[tokio::test]
async fn a_rejection_needs_a_reason_which_the_applicant_is_sent() {
    let board = Board::start().await;
    let id = board.applicant("farid@example.org").await;
    let path = format!("/api/v1/admin/members/{id}/reject");
    let body = problem(board.admin(Method::POST, &path, Some(json!({}))).await, 422).await;
    assert!(body["errors"]["reason"].is_array());
    let rejected = board
        .admin(
            Method::POST,
            &path,
            Some(json!({"reason": "We could not confirm your exchange year."})),
        )
        .await;
    assert_eq!(rejected.status(), 200);
    let mail = board.smtp.wait_for(3).await;
    // Mail goes out concurrently: find the notice rather than trust the order.
    let notice = mail
        .iter()
        .find(|m| m.header("Subject").is_some_and(|s| s.starts_with("Your application")))
        .expect("the rejection notice");
    assert_eq!(notice.to, vec!["farid@example.org".to_string()]);
    let text = notice.text();
    assert!(text.contains("We could not confirm your exchange year."), "{text}");
}

#[tokio::test]
async fn members_who_are_not_active_admins_get_403_and_suspension_ends_sessions() {
    let board = Board::start().await;
    let id = board.applicant("omar@example.org").await;
    let pending_token = token(&board.app, "omar@example.org", "Caravan of 2019!").await;
    let forbidden = board
        .call(Method::GET, "/api/v1/admin/members", &pending_token, None)
        .await;
    let body = problem(forbidden, 403).await;
    assert!(body["detail"].as_str().unwrap().contains("pending approval"), "{body}");

    board
        .admin(Method::POST, &format!("/api/v1/admin/members/{id}/approve"), None)
        .await;
    let tokens: Value = board
        .app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "omar@example.org", "password": "Caravan of 2019!"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    // Active, but not an admin.
    problem(
        board.call(Method::GET, "/api/v1/admin/members", access, None).await,
        403,
    )
    .await;
    problem(board.call(Method::GET, "/api/v1/admin/outbox", access, None).await, 403).await;
    problem(
        board.call(Method::GET, "/api/v1/admin/audit-log", access, None).await,
        403,
    )
    .await;

    let suspended = board
        .admin(
            Method::POST,
            &format!("/api/v1/admin/members/{id}/suspend"),
            Some(json!({"reason": "Spam"})),
        )
        .await;
    assert_eq!(suspended.status(), 200);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    problem(
        board
            .app
            .post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
            .await,
        401,
    )
    .await;
    // The access token in hand ends with the suspension; signing in again
    // shows the member where they stand, and nothing more.
    problem(board.call(Method::GET, "/api/v1/me", access, None).await, 401).await;
    let again = token(&board.app, "omar@example.org", "Caravan of 2019!").await;
    let me: Value = board
        .call(Method::GET, "/api/v1/me", &again, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["status"], "suspended");
    problem(board.call(Method::GET, "/api/v1/admin/outbox", &again, None).await, 403).await;
    let reinstated = board
        .admin(Method::POST, &format!("/api/v1/admin/members/{id}/reinstate"), None)
        .await;
    let member: Value = reinstated.json().await.unwrap();
    assert_eq!(member["status"], "active");

    // No admin token at all: 401; an unknown member: 404; a bad id: 404.
    problem(board.app.get("/api/v1/admin/members").await, 401).await;
    let unknown = format!("/api/v1/admin/members/{}/approve", uuid::Uuid::new_v4());
    problem(board.admin(Method::POST, &unknown, None).await, 404).await;
    problem(
        board
            .admin(Method::POST, "/api/v1/admin/members/not-a-uuid/approve", None)
            .await,
        404,
    )
    .await;
    problem(
        board
            .admin(Method::GET, "/api/v1/admin/members?status=sleeping", None)
            .await,
        422,
    )
    .await;
    problem(
        board
            .admin(Method::GET, "/api/v1/admin/members?per_page=1000", None)
            .await,
        422,
    )
    .await;
}

#[tokio::test]
async fn roles_change_but_the_last_admin_stays() {
    let board = Board::start().await;
    let id = board.applicant("leyla@example.org").await;
    board
        .admin(Method::POST, &format!("/api/v1/admin/members/{id}/approve"), None)
        .await;
    let made_admin = board
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/members/{id}"),
            Some(json!({"role": "admin"})),
        )
        .await;
    let member: Value = made_admin.json().await.unwrap();
    assert_eq!(member["role"], "admin");
    // With another admin now, an admin's own role is still the other's to change.
    let me: Value = board.admin(Method::GET, "/api/v1/me", None).await.json().await.unwrap();
    let own = format!("/api/v1/admin/members/{}", me["id"].as_str().unwrap());
    problem(
        board.admin(Method::PATCH, &own, Some(json!({"role": "member"}))).await,
        409,
    )
    .await;
    problem(
        board
            .admin(
                Method::PATCH,
                &format!("/api/v1/admin/members/{id}"),
                Some(json!({"role": "king"})),
            )
            .await,
        422,
    )
    .await;
    let admin = &board;
    let role_of = |path: String| async move {
        let member: Value = admin.admin(Method::GET, &path, None).await.json().await.unwrap();
        member["role"].as_str().unwrap().to_string()
    };
    assert_eq!(role_of(own.clone()).await, "admin", "the refused change left the role");
    assert_eq!(role_of(format!("/api/v1/admin/members/{id}")).await, "admin");
    // Back to member; the board admin, the last one now, is refused by the
    // same rule (another admin changes an admin's role), and stays an admin.
    board
        .admin(
            Method::PATCH,
            &format!("/api/v1/admin/members/{id}"),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(role_of(format!("/api/v1/admin/members/{id}")).await, "member");
    let refused = problem(
        board.admin(Method::PATCH, &own, Some(json!({"role": "member"}))).await,
        409,
    )
    .await;
    assert_eq!(refused["detail"], "Another admin changes your role.");
    assert_eq!(role_of(own).await, "admin");
}

#[tokio::test]
async fn admins_read_the_outbox_and_retry_failed_mail() {
    let board = Board::start().await;
    board.applicant("kamran@example.org").await;
    let list: Value = board
        .admin(Method::GET, "/api/v1/admin/outbox", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(list["total"].as_i64().unwrap() >= 2);
    let first = &list["items"][0];
    assert!(first["subject"].is_string() && first["to"].is_string() && first["status"].is_string());
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "verify_email")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let message: Value = board
        .admin(Method::GET, &format!("/api/v1/admin/outbox/{id}"), None)
        .await
        .json()
        .await
        .unwrap();
    let text = message["text_body"].as_str().unwrap();
    assert!(
        text.contains("/verify-email?token=[hidden]"),
        "the link's token is not shown: {text}"
    );
    assert!(message["html_body"]
        .as_str()
        .unwrap()
        .contains("Confirm my email address"));

    // Only a failed message can be retried.
    problem(
        board
            .admin(Method::POST, &format!("/api/v1/admin/outbox/{id}/retry"), None)
            .await,
        409,
    )
    .await;
    use diesel::RunQueryDsl;
    diesel::sql_query(format!("UPDATE email_outbox SET status = 'failed' WHERE id = '{id}'"))
        .execute(&mut board.app.conn())
        .unwrap();
    let failed: Value = board
        .admin(Method::GET, "/api/v1/admin/outbox?status=failed", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["total"], 1);
    let retried = board
        .admin(Method::POST, &format!("/api/v1/admin/outbox/{id}/retry"), None)
        .await;
    assert_eq!(retried.status(), 200);
    let before = board.smtp.received().len();
    board.smtp.wait_for(before + 1).await;
    problem(
        board.admin(Method::GET, "/api/v1/admin/outbox?status=lost", None).await,
        422,
    )
    .await;
}

#[tokio::test]
async fn a_member_changes_a_known_password_and_every_session_ends() {
    let board = Board::start().await;
    let tokens: Value = board
        .app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "board@alumni.test", "password": "Board member 2026"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let wrong = board
        .call(
            Method::POST,
            "/api/v1/me/password",
            access,
            Some(json!({"current_password": "guess guess guess", "new_password": "A better one 2026"})),
        )
        .await;
    let body = problem(wrong, 422).await;
    assert!(body["errors"]["current_password"].is_array());
    let changed = board
        .call(
            Method::POST,
            "/api/v1/me/password",
            access,
            Some(json!({"current_password": "Board member 2026", "new_password": "A better one 2026"})),
        )
        .await;
    assert_eq!(changed.status(), 204);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    problem(
        board
            .app
            .post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
            .await,
        401,
    )
    .await;
    assert!(!token(&board.app, "board@alumni.test", "A better one 2026")
        .await
        .is_empty());
}
