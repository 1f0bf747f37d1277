//! Profiles, privacy and the directory; programmes and records;
//! introductions; a member's own data; through the JSON API (and the pages
//! where a person uses them).

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::accounts::{accounts_app, make_admin};
use crate::helpers::{location, problem, Browser, TestApp};
use crate::mail_server::TestSmtp;

pub const PASSWORD: &str = "Caravan of 2019!";

/// An association with an admin, and a way to add active members.
pub struct Alumni {
    pub app: TestApp,
    pub smtp: TestSmtp,
    pub admin: String,
    password_hash: String,
}

impl Alumni {
    pub async fn start() -> Self {
        let smtp = TestSmtp::start();
        let app = accounts_app(&smtp).await;
        make_admin(&app, "board@alumni.test").await;
        let admin = token(&app, "board@alumni.test", "Board member 2026").await;
        let password_hash = karvan::auth::password::hash(secrecy::SecretString::from(PASSWORD))
            .await
            .unwrap();
        Alumni {
            app,
            smtp,
            admin,
            password_hash,
        }
    }

    /// A browser signed in through the login page as a member made by
    /// [`Alumni::member`].
    pub async fn signed_in(&self, email: &str) -> Browser {
        self.browser_of(email, PASSWORD).await
    }

    /// A browser signed in through the login page as the board admin.
    pub async fn board_browser(&self) -> Browser {
        self.browser_of("board@alumni.test", "Board member 2026").await
    }

    async fn browser_of(&self, email: &str, password: &str) -> Browser {
        let browser = self.app.browser();
        let signed_in = browser
            .submit("/login", "/login", &[("email", email), ("password", password)])
            .await;
        assert_eq!(signed_in.status(), 303, "{email} signs in");
        browser
    }

    /// An active member with `profile` set through `PATCH /api/v1/me`;
    /// their id and access token.
    pub async fn member(&self, email: &str, full_name: &str, profile: Value) -> (String, String) {
        let id: uuid::Uuid = diesel::sql_query(
            "INSERT INTO members (email, password_hash, full_name, status, approved_at, email_verified_at) \
             VALUES ($1, $2, $3, 'active', now(), now()) RETURNING id",
        )
        .bind::<diesel::sql_types::Text, _>(email)
        .bind::<diesel::sql_types::Text, _>(&self.password_hash)
        .bind::<diesel::sql_types::Text, _>(full_name)
        .get_result::<Id>(&mut self.app.conn())
        .unwrap()
        .id;
        let token = token(&self.app, email, PASSWORD).await;
        let patched = self
            .call(reqwest::Method::PATCH, "/api/v1/me", Some(&token), Some(profile))
            .await;
        assert_eq!(patched.status(), 200, "{}", patched.text().await.unwrap());
        (id.to_string(), token)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.app.client.request(method, format!("{}{path}", self.app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Value {
        let response = self.call(reqwest::Method::GET, path, token, None).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> reqwest::Response {
        self.call(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn program(&self, name: &str) -> String {
        let created = self.post("/api/v1/programs", &self.admin, json!({"name": name})).await;
        assert_eq!(created.status(), 201);
        created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn record(&self, token: &str, program: &str, host: &str, start: &str) -> Value {
        let added = self
            .post(
                "/api/v1/me/exchanges",
                token,
                json!({"program_id": program, "home_university": "LUMS", "host_university": host,
                       "field_of_study": "Economics", "degree_level": "master", "start_date": start}),
            )
            .await;
        assert_eq!(added.status(), 201);
        added.json().await.unwrap()
    }

    /// The ids of a directory search's entries, and its total.
    pub async fn search(&self, token: &str, query: &str) -> (Vec<String>, i64) {
        let page = self.get(&format!("/api/v1/members?{query}"), Some(token)).await;
        let ids = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        (ids, page["total"].as_i64().unwrap())
    }
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
}

pub async fn token(app: &TestApp, email: &str, password: &str) -> String {
    let response = app
        .post_json("/api/v1/auth/login", &json!({"email": email, "password": password}))
        .await;
    assert_eq!(response.status(), 200, "{email} signs in");
    response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn fields(entry: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = ["email", "city", "profession", "bio", "links", "exchanges"]
        .into_iter()
        .filter(|k| entry.get(*k).is_some())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn each_field_is_shown_only_to_whom_its_owner_allows() {
    let alumni = Alumni::start().await;
    let program = alumni.program("Karvan Semester Exchange").await;
    let (aysel, aysel_token) = alumni
        .member(
            "aysel@example.org",
            "Aysel Məmmədova",
            json!({
                "city": "Baku", "profession": "Petroleum engineer", "bio": "Studied in Lahore.",
                "links": ["https://example.org/aysel"], "country": "Azerbaijan",
                "visibility": {"email": "public", "city": "members", "profession": "hidden",
                               "bio": "public", "links": "members", "exchanges": "hidden"}
            }),
        )
        .await;
    alumni.record(&aysel_token, &program, "LUMS", "2018-09-01").await;
    let (_, hina_token) = alumni.member("hina@example.org", "Hina Baloch", json!({})).await;

    let path = format!("/api/v1/members/{aysel}");
    let anyone = alumni.get(&path, None).await;
    assert_eq!(fields(&anyone), ["bio", "email"]);
    assert_eq!(anyone["full_name"], "Aysel Məmmədova");
    let member = alumni.get(&path, Some(&hina_token)).await;
    assert_eq!(fields(&member), ["bio", "city", "email", "links"]);
    assert_eq!(member["city"], "Baku");
    // An admin sees in the directory what members see; full records are
    // the audited admin endpoints.
    let admin = alumni.get(&path, Some(&alumni.admin)).await;
    assert_eq!(fields(&admin), fields(&member));
    let owner = alumni.get(&path, Some(&aysel_token)).await;
    assert_eq!(
        fields(&owner),
        ["bio", "city", "email", "exchanges", "links", "profession"]
    );
    assert_eq!(owner["exchanges"][0]["host_university"], "LUMS");

    // The same rules in a search's list.
    let page = alumni.get("/api/v1/members?q=aysel", Some(&hina_token)).await;
    assert_eq!(fields(&page["items"][0]), fields(&member));
    // Anyone not signed in cannot search.
    problem(
        alumni.call(reqwest::Method::GET, "/api/v1/members", None, None).await,
        401,
    )
    .await;

    // The association's default decides where the member made no choice.
    let (omar, _) = alumni
        .member("omar@example.org", "Omar Siddiqui", json!({"city": "Karachi"}))
        .await;
    let omar_path = format!("/api/v1/members/{omar}");
    assert!(alumni.get(&omar_path, Some(&hina_token)).await.get("city").is_some());
    assert!(
        alumni.get(&omar_path, Some(&hina_token)).await.get("email").is_none(),
        "email is hidden by default"
    );
    let changed = alumni
        .call(
            reqwest::Method::PUT,
            "/api/v1/admin/directory-defaults",
            Some(&alumni.admin),
            Some(json!({"city": "hidden"})),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert!(alumni.get(&omar_path, Some(&hina_token)).await.get("city").is_none());
    assert_eq!(
        alumni.get(&path, Some(&hina_token)).await["city"],
        "Baku",
        "a member's own choice wins"
    );
    let members_put = alumni
        .call(
            reqwest::Method::PUT,
            "/api/v1/admin/directory-defaults",
            Some(&hina_token),
            Some(json!({"city": "public"})),
        )
        .await;
    problem(members_put, 403).await;

    // Pages follow the same rules.
    let anyone_page = alumni.app.browser().page(&format!("/members/{aysel}")).await;
    assert!(anyone_page.contains("Studied in Lahore."));
    assert!(!anyone_page.contains("Baku"));
    assert!(!anyone_page.contains("Petroleum"));
}

#[tokio::test]
async fn hidden_members_never_appear_not_even_in_counts_or_through_filters() {
    let alumni = Alumni::start().await;
    let program = alumni.program("Nizami Ganjavi Fellowship").await;
    let (_, viewer) = alumni.member("viewer@example.org", "Viewer Person", json!({})).await;
    let (hidden, hidden_token) = alumni
        .member(
            "hidden@example.org",
            "Zainab Qureshi",
            json!({"country": "Pakistan", "university": "NUST", "listed_in_directory": false}),
        )
        .await;
    let (private, private_token) = alumni
        .member(
            "private@example.org",
            "Zeeshan Quraishi",
            json!({"country": "Pakistan", "visibility": {"exchanges": "hidden"}}),
        )
        .await;
    alumni
        .record(&hidden_token, &program, "ADA University", "2019-02-01")
        .await;
    alumni
        .record(&private_token, &program, "ADA University", "2019-02-01")
        .await;

    assert_eq!(alumni.search(&viewer, "q=zainab").await, (vec![], 0));
    assert_eq!(alumni.search(&viewer, "university=nust").await, (vec![], 0));
    let (ids, total) = alumni.search(&viewer, "country=Pakistan").await;
    assert_eq!((ids, total), (vec![private.clone()], 1));
    problem(
        alumni
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/members/{hidden}"),
                Some(&viewer),
                None,
            )
            .await,
        404,
    )
    .await;
    // Filtering by a programme finds no one whose records are hidden: the
    // filter itself must not tell who took part.
    assert_eq!(
        alumni.search(&viewer, &format!("program_id={program}")).await,
        (vec![], 0)
    );
    assert_eq!(alumni.search(&viewer, "host_university=ADA").await, (vec![], 0));
    // The owner still sees their own entry.
    assert_eq!(
        alumni
            .get(&format!("/api/v1/members/{hidden}"), Some(&hidden_token))
            .await["id"],
        hidden
    );
    // Members who are not active are never listed.
    diesel::sql_query("UPDATE members SET status = 'suspended' WHERE email = 'private@example.org'")
        .execute(&mut alumni.app.conn())
        .unwrap();
    assert_eq!(alumni.search(&viewer, "country=Pakistan").await, (vec![], 0));
    assert_eq!(alumni.search(&viewer, "q=zeeshan").await, (vec![], 0));
    // Listing oneself again (or renaming) is seen by the search at once.
    let listed = alumni
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&hidden_token),
            Some(json!({"listed_in_directory": true, "full_name": "Zainab Qureshi-Malik"})),
        )
        .await;
    assert_eq!(listed.status(), 200);
    assert_eq!(alumni.search(&viewer, "q=malik").await, (vec![hidden.clone()], 1));
    assert_eq!(alumni.search(&viewer, "q=zainab+qureshi").await, (vec![hidden], 1));
}

/// A name search's total, which must also be the number of entries it lists.
async fn counted(alumni: &Alumni, token: &str, name: &str) -> i64 {
    let (ids, total) = alumni.search(token, &format!("q={name}&per_page=100")).await;
    assert_eq!(ids.len() as i64, total, "q={name}: the total is what is listed");
    total
}

/// A university search's total, which must also be the number it lists.
async fn counted_at(alumni: &Alumni, token: &str, university: &str) -> i64 {
    let (ids, total) = alumni
        .search(token, &format!("university={university}&per_page=100"))
        .await;
    assert_eq!(
        ids.len() as i64,
        total,
        "university={university}: the total is what is listed"
    );
    total
}

/// The words' counts with their changes folded in are the entries' counts.
fn fold_and_check_counts(alumni: &Alumni) {
    let mut conn = alumni.app.conn();
    karvan::directory::store::fold_count_changes(&mut conn).unwrap();
    #[derive(QueryableByName)]
    struct Wrong {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        wrong: i64,
    }
    let wrong = diesel::sql_query(
        "SELECT (SELECT count(*) FROM name_words n \
         WHERE n.listed <> (SELECT count(*) FROM directory_words d WHERE d.word = n.word)) \
         + (SELECT count(*) FROM university_names u WHERE u.listed <> (SELECT count(*) FROM members m \
         WHERE karvan_fold(m.university) = u.name AND m.status = 'active' AND m.listed_in_directory)) \
         + (SELECT count(*) FROM directory_word_changes) \
         + (SELECT count(*) FROM directory_university_changes) AS wrong",
    )
    .get_result::<Wrong>(&mut conn)
    .unwrap()
    .wrong;
    assert_eq!(wrong, 0, "every word's and university's count is folded and exact");
    // The fold vacuums the logs: no page is left of the folded rows, which
    // a search's scan of the log's index would otherwise still read.
    let pages = diesel::sql_query(
        "SELECT (pg_relation_size('directory_word_changes') \
         + pg_relation_size('directory_university_changes')) / 8192 AS wrong",
    )
    .get_result::<Wrong>(&mut conn)
    .unwrap()
    .wrong;
    assert_eq!(pages, 0, "the folded change log is vacuumed away");
}

#[tokio::test]
async fn name_counts_stay_exact_through_every_change_before_and_after_their_fold() {
    let alumni = Alumni::start().await;
    let (_, viewer) = alumni.member("viewer@example.org", "Viewer Person", json!({})).await;
    let baku = json!({"university": "Baku State University"});
    let (_, aysel) = alumni
        .member("aysel@example.org", "Aysel Hüseynova", baku.clone())
        .await;
    let (kamran, kamran_token) = alumni.member("kamran@example.org", "Kamran Hüseynov", baku).await;
    // Both words that "hüseynov" matches are in her name: counted once.
    let (leyla, leyla_token) = alumni
        .member(
            "leyla@example.org",
            "Leyla Hüseynova Hüseynov",
            json!({"university": "ADA University"}),
        )
        .await;
    // Five words of one name that "an" finds, and Kamran: many words,
    // counted another way.
    alumni
        .member("anar@example.org", "Anar Ananda Banan Canan Danan", json!({}))
        .await;
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 3);
    assert_eq!(counted_at(&alumni, &viewer, "BAKU").await, 2);
    // Two universities' names hold "university": their counts add up.
    assert_eq!(counted_at(&alumni, &viewer, "university").await, 3);
    fold_and_check_counts(&alumni);
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 3);
    assert_eq!(counted_at(&alumni, &viewer, "university").await, 3);
    assert_eq!(counted(&alumni, &viewer, "huseynova").await, 3);
    // Leyla's three words hold "ey": she is counted once.
    assert_eq!(counted(&alumni, &viewer, "ey").await, 3);
    assert_eq!(counted(&alumni, &viewer, "an").await, 2);

    diesel::sql_query(format!("UPDATE members SET status = 'suspended' WHERE id = '{kamran}'"))
        .execute(&mut alumni.app.conn())
        .unwrap();
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 2);
    assert_eq!(counted_at(&alumni, &viewer, "baku").await, 1);
    // A suspended member may not search, whatever they ask (403 before 422).
    for query in ["q=kamran", "q=k"] {
        let refused = alumni
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/members?{query}"),
                Some(&kamran_token),
                None,
            )
            .await;
        problem(refused, 403).await;
    }
    let hidden = alumni
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&aysel),
            Some(json!({"listed_in_directory": false})),
        )
        .await;
    assert_eq!(hidden.status(), 200);
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 1);
    assert_eq!(counted_at(&alumni, &viewer, "baku").await, 0);
    fold_and_check_counts(&alumni);
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 1);
    assert_eq!(counted_at(&alumni, &viewer, "university").await, 1);

    let renamed = alumni
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&leyla_token),
            Some(json!({"full_name": "Leyla Məmmədova", "university": "Khazar University"})),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 0);
    assert_eq!(counted(&alumni, &viewer, "mamedova").await, 1);
    // A move to another university is a change at both.
    assert_eq!(counted_at(&alumni, &viewer, "ada").await, 0);
    assert_eq!(counted_at(&alumni, &viewer, "khazar").await, 1);
    diesel::sql_query(format!("UPDATE members SET status = 'active' WHERE id = '{kamran}'"))
        .execute(&mut alumni.app.conn())
        .unwrap();
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 1);
    assert_eq!(counted_at(&alumni, &viewer, "baku").await, 1);
    fold_and_check_counts(&alumni);
    // A page past the end still tells how many there are.
    assert_eq!(
        alumni.search(&viewer, "q=huseynov&page=3&per_page=1").await,
        (vec![], 1)
    );
    // A member removed outright takes their words with them.
    diesel::sql_query(format!("DELETE FROM members WHERE id IN ('{kamran}', '{leyla}')"))
        .execute(&mut alumni.app.conn())
        .unwrap();
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 0);
    assert_eq!(counted(&alumni, &viewer, "mamedova").await, 0);
    assert_eq!(counted_at(&alumni, &viewer, "university").await, 0);
    fold_and_check_counts(&alumni);
    assert_eq!(counted(&alumni, &viewer, "kamran").await, 0);
}

#[tokio::test]
async fn two_folds_at_once_fold_each_change_once() {
    let alumni = Alumni::start().await;
    let (_, viewer) = alumni.member("viewer@example.org", "Viewer Person", json!({})).await;
    for (email, name) in [
        ("aysel@example.org", "Aysel Hüseynova"),
        ("kamran@example.org", "Kamran Hüseynov"),
        ("sana@example.org", "Sana Malik Hüseynova"),
    ] {
        alumni.member(email, name, json!({})).await;
    }
    #[derive(QueryableByName)]
    struct Pending {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        pending: i64,
    }
    let pending = diesel::sql_query("SELECT count(*) AS pending FROM directory_word_changes")
        .get_result::<Pending>(&mut alumni.app.conn())
        .unwrap()
        .pending;
    assert!(pending >= 8, "the members' words are logged, not yet folded: {pending}");
    // As replicas' tickers might: two folds started together, each on a
    // blocking thread (the test's runtime keeps serving meanwhile).
    let start = std::sync::Arc::new(std::sync::Barrier::new(2));
    let folds: Vec<_> = (0..2)
        .map(|_| {
            let mut conn = alumni.app.conn();
            let start = start.clone();
            tokio::task::spawn_blocking(move || {
                start.wait();
                karvan::directory::store::fold_count_changes(&mut conn).unwrap()
            })
        })
        .collect();
    let mut folded = Vec::new();
    for fold in folds {
        folded.push(fold.await.unwrap());
    }
    // None folded twice (the app's own ticker may have folded a few).
    assert!(folded.iter().sum::<i64>() <= pending, "{folded:?} of {pending}");
    fold_and_check_counts(&alumni);
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 3);
}

#[tokio::test]
async fn name_counts_changed_without_their_triggers_are_repaired_by_the_recount() {
    let alumni = Alumni::start().await;
    let (_, viewer) = alumni.member("viewer@example.org", "Viewer Person", json!({})).await;
    alumni
        .member(
            "aysel@example.org",
            "Aysel Hüseynova",
            json!({"university": "Baku State University"}),
        )
        .await;
    alumni.member("kamran@example.org", "Kamran Hüseynov", json!({})).await;
    fold_and_check_counts(&alumni);
    // As a restore with triggers disabled, or a hand edit, might leave them:
    // one count off, and a change logged that never happened.
    diesel::sql_query("UPDATE name_words SET listed = listed + 7 WHERE word = 'kamran'")
        .execute(&mut alumni.app.conn())
        .unwrap();
    diesel::sql_query("INSERT INTO directory_word_changes (word, change) VALUES ('aysel', 3)")
        .execute(&mut alumni.app.conn())
        .unwrap();
    diesel::sql_query("UPDATE university_names SET listed = 5 WHERE name = 'baku state university'")
        .execute(&mut alumni.app.conn())
        .unwrap();
    let (_, total) = alumni.search(&viewer, "q=kamran").await;
    assert_eq!(total, 8, "the search adds what it is told");
    assert_eq!(alumni.search(&viewer, "university=baku").await.1, 5);

    let wrong = karvan::directory::store::recount(&mut alumni.app.conn()).unwrap();
    // Kamran's and Baku's counts were wrong; aysel's was right, its logged
    // change was not (if the app's ticker folded that change meanwhile,
    // aysel's count was wrong too).
    assert!((2..=3).contains(&wrong), "{wrong} counts repaired");
    assert_eq!(counted(&alumni, &viewer, "kamran").await, 1);
    assert_eq!(counted(&alumni, &viewer, "aysel").await, 1);
    assert_eq!(counted(&alumni, &viewer, "h%C3%BCseynov").await, 2);
    assert_eq!(counted_at(&alumni, &viewer, "baku").await, 1);
    fold_and_check_counts(&alumni);
    assert_eq!(
        karvan::directory::store::recount(&mut alumni.app.conn()).unwrap(),
        0,
        "a second recount finds nothing wrong"
    );

    // A member's change left open (an import holds its transaction for the
    // whole file): the recount gives up rather than hold every other write
    // back behind it, and runs once the change is done.
    let mut import = alumni.app.conn();
    diesel::sql_query("BEGIN").execute(&mut import).unwrap();
    diesel::sql_query("UPDATE members SET city = 'Baku' WHERE email = 'kamran@example.org'")
        .execute(&mut import)
        .unwrap();
    let waited = std::time::Instant::now();
    assert!(karvan::directory::store::recount(&mut alumni.app.conn()).is_err());
    assert!(
        waited.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        waited.elapsed()
    );
    diesel::sql_query("COMMIT").execute(&mut import).unwrap();
    assert_eq!(karvan::directory::store::recount(&mut alumni.app.conn()).unwrap(), 0);
}

#[tokio::test]
async fn names_are_found_in_part_misspelled_and_in_any_order_and_every_filter_narrows() {
    let alumni = Alumni::start().await;
    let karvan = alumni.program("Karvan Semester Exchange").await;
    let silk = alumni.program("Silk Road Engineering Exchange").await;
    let (viewer, viewer_token) = alumni
        .member(
            "viewer@example.org",
            "Viewer Person",
            json!({"listed_in_directory": false}),
        )
        .await;
    let _ = viewer;
    let (aysel, aysel_token) = alumni
        .member(
            "aysel@example.org",
            "Aysel Məmmədova",
            json!({"country": "Azerbaijan", "graduation_year": 2019, "university": "Baku State University"}),
        )
        .await;
    let (orxan, orxan_token) = alumni
        .member(
            "orxan@example.org",
            "Orxan Əliyev",
            json!({"country": "Azerbaijan", "graduation_year": 2015, "university": "ADA University"}),
        )
        .await;
    let (hina, hina_token) = alumni
        .member(
            "hina@example.org",
            "Hina Baloch",
            json!({"country": "Pakistan", "graduation_year": 2019, "university": "Lahore University of Management Sciences"}),
        )
        .await;
    // Two words of her name hold "ali": she is still found once.
    let (ali, _) = alumni.member("ali@example.org", "Əli Əliyeva", json!({})).await;
    alumni.record(&aysel_token, &karvan, "LUMS", "2017-09-01").await;
    alumni.record(&orxan_token, &silk, "NUST", "2013-02-01").await;
    alumni
        .record(&hina_token, &karvan, "Baku State University", "2018-02-01")
        .await;

    for (q, expected, total) in [
        ("q=Mammadova", vec![aysel.clone()], 1),
        ("q=M%C9%99mm%C9%99dova", vec![aysel.clone()], 1),
        ("q=Mamedova", vec![aysel.clone()], 1),
        ("q=ays", vec![aysel.clone()], 1),
        ("q=orxan+aliyev", vec![orxan.clone()], 1),
        ("q=aliyev", vec![ali.clone(), orxan.clone()], 2),
        ("q=baloch+hina", vec![hina.clone()], 1),
        ("q=Balouch", vec![hina.clone()], 1),
        ("q=zzzz", vec![], 0),
        ("q=ali", vec![ali.clone(), orxan.clone()], 2),
        // The count is of all matches, whatever the page.
        ("q=ali&per_page=1", vec![ali.clone()], 2),
        ("q=ali&per_page=1&page=2", vec![orxan.clone()], 2),
        ("q=ays&per_page=1&page=2", vec![], 1),
    ] {
        assert_eq!(alumni.search(&viewer_token, q).await, (expected, total), "{q}");
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    for (q, expected) in [
        ("country=azerbaijan", vec![aysel.clone(), orxan.clone()]),
        ("graduation_year=2019", vec![aysel.clone(), hina.clone()]),
        ("university=ada", vec![orxan.clone()]),
        (
            &format!("program_id={karvan}") as &str,
            vec![aysel.clone(), hina.clone()],
        ),
        ("host_university=nust", vec![orxan.clone()]),
        (&format!("program_id={karvan}&cohort_year=2018"), vec![hina.clone()]),
        ("country=Pakistan&graduation_year=2015", vec![]),
        // Three universities' names hold the word: each is its own list.
        (
            "university=university",
            vec![aysel.clone(), orxan.clone(), hina.clone()],
        ),
    ] {
        let (ids, total) = alumni.search(&viewer_token, q).await;
        assert_eq!(sorted(ids), sorted(expected.clone()), "{q}");
        assert_eq!(total, expected.len() as i64, "{q}");
    }
    // Pages of a university search run across its universities' lists, in
    // name order, and count them all.
    let mut pages = Vec::new();
    for page in 1..=4 {
        pages.push(
            alumni
                .search(&viewer_token, &format!("university=UNIVERSITY&per_page=1&page={page}"))
                .await,
        );
    }
    assert_eq!(
        pages,
        vec![
            (vec![aysel.clone()], 3),
            (vec![hina.clone()], 3),
            (vec![orxan.clone()], 3),
            (vec![], 3)
        ]
    );
    // A country, and a country's year: read in name order off their
    // indexes, a page at a time, and counted whole.
    let mut pages = Vec::new();
    for q in [
        "country=AZERBAIJAN&per_page=1",
        "country=azerbaijan&per_page=1&page=2",
        "country=azerbaijan&per_page=1&page=3",
        "country=azerbaijan&graduation_year=2019",
        "country=Pakistan&graduation_year=2019&per_page=1&page=2",
    ] {
        pages.push(alumni.search(&viewer_token, q).await);
    }
    assert_eq!(
        pages,
        vec![
            (vec![aysel.clone()], 2),
            (vec![orxan.clone()], 2),
            (vec![], 2),
            (vec![aysel.clone()], 1),
            (vec![], 1)
        ]
    );
    // Four members and the board's admin are listed (the viewer is not).
    let paged = alumni
        .get("/api/v1/members?per_page=3&page=2", Some(&viewer_token))
        .await;
    assert_eq!(
        (paged["total"].as_i64(), paged["items"].as_array().unwrap().len()),
        (Some(5), 2)
    );

    // Bad input answers 422 with the parameter named, never 500.
    for bad in [
        "graduation_year=abc",
        "graduation_year=3000",
        "per_page=1000",
        "program_id=not-a-uuid",
        "q=a",
    ] {
        let response = alumni
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/members?{bad}"),
                Some(&viewer_token),
                None,
            )
            .await;
        problem(response, 422).await;
    }
    let long = "x".repeat(300);
    let response = alumni
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/members?q={long}"),
            Some(&viewer_token),
            None,
        )
        .await;
    assert!(problem(response, 422).await["errors"]["q"].is_array());
    let odd = alumni
        .call(
            reqwest::Method::GET,
            "/api/v1/members?q=%25_%5C%27%22%3B",
            Some(&viewer_token),
            None,
        )
        .await;
    assert_eq!(odd.status(), 200, "wildcards and quotes are only text");

    // The page: search, and an entry found by a misspelled name.
    let browser = alumni.signed_in("viewer@example.org").await;
    let page = browser.page("/members?q=Mamedova").await;
    assert!(page.contains("Aysel Məmmədova"));
    assert!(!page.contains("Hina Baloch"));
    assert_eq!(browser.get("/members?graduation_year=abc").await.status(), 422);
    assert_eq!(
        location(&alumni.app.browser().get("/members").await),
        "/login?next=%2Fmembers"
    );
}

#[tokio::test]
async fn introductions_are_accepted_with_both_addresses_or_ignored_in_silence() {
    let alumni = Alumni::start().await;
    let (aysel, aysel_token) = alumni.member("aysel@example.org", "Aysel Məmmədova", json!({})).await;
    let (hina, hina_token) = alumni.member("hina@example.org", "Hina Baloch", json!({})).await;
    let (omar, omar_token) = alumni.member("omar@example.org", "Omar Siddiqui", json!({})).await;
    let before = alumni.smtp.received().len();

    let asked = alumni
        .post(
            &format!("/api/v1/members/{aysel}/contact-requests"),
            &hina_token,
            json!({"message": "We were both in Lahore in 2018!"}),
        )
        .await;
    assert_eq!(asked.status(), 201);
    let mail = alumni.smtp.wait_for(before + 1).await;
    let notice = mail.last().unwrap();
    assert_eq!(notice.to, vec!["aysel@example.org".to_string()]);
    assert!(notice.text().contains("We were both in Lahore in 2018!"));
    assert!(
        !notice.text().contains("hina@example.org"),
        "no address before acceptance"
    );

    let again = alumni
        .post(
            &format!("/api/v1/members/{aysel}/contact-requests"),
            &hina_token,
            json!({"message": "Hello again"}),
        )
        .await;
    problem(again, 409).await;
    let to_self = alumni
        .post(
            &format!("/api/v1/members/{hina}/contact-requests"),
            &hina_token,
            json!({"message": "Me"}),
        )
        .await;
    // The request is well formed; who it is to refuses it.
    assert!(problem(to_self, 409).await["errors"]["member"].is_array());
    let empty = alumni
        .post(
            &format!("/api/v1/members/{omar}/contact-requests"),
            &hina_token,
            json!({"message": "  "}),
        )
        .await;
    assert!(problem(empty, 422).await["errors"]["message"].is_array());

    let incoming = alumni.get("/api/v1/me/contact-requests", Some(&aysel_token)).await;
    let request = &incoming["items"][0];
    // 200 later requests of Aysel's push it off her list; accepting it still
    // answers the request.
    diesel::sql_query(
        "WITH crowd AS (INSERT INTO members (email, password_hash, full_name, status, approved_at, email_verified_at) \
         SELECT 'crowd' || n || '@example.org', 'x', 'Crowd ' || n, 'active', now(), now() \
         FROM generate_series(1, 200) n RETURNING id) \
         INSERT INTO contact_requests (from_member, to_member, message, created_at) \
         SELECT $1, id, 'Salam', now() + interval '1 minute' FROM crowd",
    )
    .bind::<diesel::sql_types::Uuid, _>(aysel.parse::<uuid::Uuid>().unwrap())
    .execute(&mut alumni.app.conn())
    .unwrap();
    assert_eq!(request["direction"], "incoming");
    assert!(request.get("other_email").is_none());
    let accepted = alumni
        .post(
            &format!("/api/v1/me/contact-requests/{}/accept", request["id"].as_str().unwrap()),
            &aysel_token,
            json!({}),
        )
        .await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(
        accepted.json::<Value>().await.unwrap()["other_email"],
        "hina@example.org"
    );
    let mail = alumni.smtp.wait_for(before + 3).await;
    let introductions: Vec<_> = mail[before + 1..].iter().collect();
    let to_hina = introductions
        .iter()
        .find(|m| m.to == vec!["hina@example.org".to_string()])
        .unwrap();
    let to_aysel = introductions
        .iter()
        .find(|m| m.to == vec!["aysel@example.org".to_string()])
        .unwrap();
    assert!(to_hina.text().contains("aysel@example.org"));
    assert!(to_aysel.text().contains("hina@example.org"));

    // Ignored: the asker still sees "pending", and nobody is mailed.
    alumni
        .post(
            &format!("/api/v1/members/{omar}/contact-requests"),
            &hina_token,
            json!({"message": "Hello Omar"}),
        )
        .await;
    let count = alumni.smtp.wait_for(before + 4).await.len();
    let omars = alumni.get("/api/v1/me/contact-requests", Some(&omar_token)).await;
    let ignored = alumni
        .post(
            &format!(
                "/api/v1/me/contact-requests/{}/ignore",
                omars["items"][0]["id"].as_str().unwrap()
            ),
            &omar_token,
            json!({}),
        )
        .await;
    assert_eq!(ignored.status(), 204);
    let hinas = alumni.get("/api/v1/me/contact-requests", Some(&hina_token)).await;
    let to_omar = hinas["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["other_id"] == omar.as_str())
        .unwrap();
    assert_eq!(to_omar["status"], "pending");
    let ask_again = alumni
        .post(
            &format!("/api/v1/members/{omar}/contact-requests"),
            &hina_token,
            json!({"message": "Hello again, Omar"}),
        )
        .await;
    assert_eq!(
        problem(ask_again, 409).await["detail"],
        "Your request is already waiting for an answer.",
        "an ignored request answers as a waiting one"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(alumni.smtp.received().len(), count, "ignoring sends nothing");

    // At most ten requests a day.
    for n in 0..9 {
        let (id, _) = alumni
            .member(&format!("m{n}@example.org"), &format!("Member {n}"), json!({}))
            .await;
        let response = alumni
            .post(
                &format!("/api/v1/members/{id}/contact-requests"),
                &hina_token,
                json!({"message": "Hi"}),
            )
            .await;
        let status = response.status().as_u16();
        assert_eq!(status, if n < 8 { 201 } else { 429 }, "request {n}");
    }
}

#[tokio::test]
async fn programmes_and_records_are_checked_and_verified_by_the_board() {
    let alumni = Alumni::start().await;
    let (member, token) = alumni.member("aysel@example.org", "Aysel Məmmədova", json!({})).await;
    let program = alumni.program("Karvan Semester Exchange").await;
    problem(
        alumni
            .post(
                "/api/v1/programs",
                &alumni.admin,
                json!({"name": "karvan semester exchange"}),
            )
            .await,
        409,
    )
    .await;
    problem(
        alumni.post("/api/v1/programs", &token, json!({"name": "Mine"})).await,
        403,
    )
    .await;
    assert_eq!(
        alumni.get("/api/v1/programs", None).await["items"][0]["id"],
        program.as_str()
    );

    let bad = alumni
        .post(
            "/api/v1/me/exchanges",
            &token,
            json!({"program_id": uuid::Uuid::new_v4(), "home_university": "", "host_university": "LUMS",
                   "field_of_study": "Economics", "degree_level": "wizard", "start_date": "2019-09-01",
                   "end_date": "2019-01-01"}),
        )
        .await;
    let errors = problem(bad, 422).await["errors"].clone();
    for field in ["home_university", "degree_level", "end_date"] {
        assert!(errors[field].is_array(), "{field}: {errors}");
    }
    let unknown = alumni
        .post(
            "/api/v1/me/exchanges",
            &token,
            json!({"program_id": uuid::Uuid::new_v4(), "home_university": "BSU", "host_university": "LUMS",
                   "field_of_study": "Economics", "degree_level": "master", "start_date": "2019-09-01"}),
        )
        .await;
    assert!(problem(unknown, 422).await["errors"]["program_id"].is_array());
    let not_a_date = alumni
        .post(
            "/api/v1/me/exchanges",
            &token,
            json!({"program_id": program, "home_university": "BSU", "host_university": "LUMS",
                   "field_of_study": "Economics", "degree_level": "master", "start_date": "01/09/2019"}),
        )
        .await;
    assert!(problem(not_a_date, 422).await["errors"]["start_date"].is_array());

    let record = alumni.record(&token, &program, "LUMS", "2019-09-01").await;
    let id = record["id"].as_str().unwrap();
    assert_eq!(record["member_id"], member.as_str());
    let verified = alumni
        .post(
            &format!("/api/v1/admin/exchanges/{id}/verify"),
            &alumni.admin,
            json!({}),
        )
        .await;
    let verified: Value = verified.json().await.unwrap();
    assert!(verified["verified_at"].is_string());
    // Verifying it again changes nothing (and audits nothing).
    let again = alumni
        .post(
            &format!("/api/v1/admin/exchanges/{id}/verify"),
            &alumni.admin,
            json!({}),
        )
        .await;
    assert_eq!(
        again.json::<Value>().await.unwrap()["verified_at"],
        verified["verified_at"]
    );
    problem(
        alumni
            .post(&format!("/api/v1/admin/exchanges/{id}/verify"), &token, json!({}))
            .await,
        403,
    )
    .await;
    let own = alumni.record(&alumni.admin, &program, "NUST", "2010-09-01").await;
    let own_id = own["id"].as_str().unwrap();
    problem(
        alumni
            .post(
                &format!("/api/v1/admin/exchanges/{own_id}/verify"),
                &alumni.admin,
                json!({}),
            )
            .await,
        409,
    )
    .await;
    alumni
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/me/exchanges/{own_id}"),
            Some(&alumni.admin),
            None,
        )
        .await;
    // A change undoes the verification: the board verified what it said.
    let changed = alumni
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/me/exchanges/{id}"),
            Some(&token),
            Some(json!({"host_university": "NUST"})),
        )
        .await;
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        (changed["host_university"].as_str(), changed["verified_at"].is_null()),
        (Some("NUST"), true)
    );
    assert_eq!(changed["home_university"], "LUMS", "fields not sent are kept");
    // Another member's record is not theirs to change.
    let (_, other) = alumni.member("hina@example.org", "Hina Baloch", json!({})).await;
    problem(
        alumni
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/me/exchanges/{id}"),
                Some(&other),
                None,
            )
            .await,
        404,
    )
    .await;
    // A programme that records name cannot be deleted.
    let refused = alumni
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/programs/{program}"),
            Some(&alumni.admin),
            None,
        )
        .await;
    assert!(problem(refused, 409).await["detail"]
        .as_str()
        .unwrap()
        .contains("1 member record"));
    let deleted = alumni
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/me/exchanges/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let gone = alumni
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/programs/{program}"),
            Some(&alumni.admin),
            None,
        )
        .await;
    assert_eq!(gone.status(), 204);
    let audit = alumni
        .get("/api/v1/admin/audit-log?per_page=100", Some(&alumni.admin))
        .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["program.create", "exchange.verify", "program.delete"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let verifications = actions.iter().filter(|a| **a == "exchange.verify").count();
    assert_eq!(verifications, 1, "{actions:?}");
}

#[tokio::test]
async fn a_member_exports_all_and_only_their_data_and_deletion_anonymises_and_revokes() {
    let alumni = Alumni::start().await;
    let program = alumni.program("Karvan Semester Exchange").await;
    let (aysel, aysel_token) = alumni
        .member(
            "aysel@example.org",
            "Aysel Məmmədova",
            json!({"city": "Baku", "bio": "Hello"}),
        )
        .await;
    let (hina, hina_token) = alumni
        .member("hina@example.org", "Hina Baloch", json!({"city": "Lahore"}))
        .await;
    alumni.record(&aysel_token, &program, "LUMS", "2018-09-01").await;
    alumni
        .record(&hina_token, &program, "Baku State University", "2017-09-01")
        .await;
    alumni
        .post(
            &format!("/api/v1/members/{aysel}/contact-requests"),
            &hina_token,
            json!({"message": "Salam!"}),
        )
        .await;

    let export = alumni.get("/api/v1/me/export", Some(&aysel_token)).await;
    assert_eq!(export["member"]["email"], "aysel@example.org");
    assert_eq!(export["member"]["city"], "Baku");
    assert!(export["member"].get("password_hash").is_none());
    assert_eq!(export["exchange_records"].as_array().unwrap().len(), 1);
    assert_eq!(export["exchange_records"][0]["host_university"], "LUMS");
    assert_eq!(export["contact_requests"][0]["message"], "Salam!");
    assert!(!export["sessions"].as_array().unwrap().is_empty());
    let text = export.to_string();
    for other in ["hina@example.org", "Lahore", "Baku State University"] {
        assert!(!text.contains(other), "{other} is not Aysel's data");
    }

    let wrong = alumni
        .call(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(&aysel_token),
            Some(json!({"password": "not it"})),
        )
        .await;
    assert!(problem(wrong, 422).await["errors"]["password"].is_array());
    let refresh = alumni
        .app
        .post_json(
            "/api/v1/auth/login",
            &json!({"email": "aysel@example.org", "password": PASSWORD}),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["refresh_token"]
        .clone();
    let deleted = alumni
        .call(
            reqwest::Method::DELETE,
            "/api/v1/me",
            Some(&aysel_token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(deleted.status(), 204);

    // Signed out everywhere, personal data gone, history kept anonymised.
    problem(
        alumni
            .call(reqwest::Method::GET, "/api/v1/me", Some(&aysel_token), None)
            .await,
        401,
    )
    .await;
    let refreshed = alumni
        .app
        .post_json("/api/v1/auth/refresh", &json!({"refresh_token": refresh}))
        .await;
    assert_eq!(refreshed.status(), 401);
    let row: (String, String, Option<String>, String) = {
        use karvan::db::schema::members::dsl::*;
        members
            .filter(id.eq(uuid::Uuid::parse_str(&aysel).unwrap()))
            .select((email, full_name, city, status))
            .first(&mut alumni.app.conn())
            .unwrap()
    };
    assert_eq!(
        (row.1.as_str(), row.2, row.3.as_str()),
        ("Deleted member", None, "deleted")
    );
    assert!(row.0.ends_with("@invalid"));
    let records: i64 = {
        use karvan::db::schema::exchange_records::dsl::*;
        exchange_records.count().get_result(&mut alumni.app.conn()).unwrap()
    };
    assert_eq!(records, 1, "only Hina's record is left");
    let audit = alumni.get("/api/v1/admin/audit-log", Some(&alumni.admin)).await;
    assert!(audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "member.delete"));
    problem(
        alumni
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/members/{aysel}"),
                Some(&hina_token),
                None,
            )
            .await,
        404,
    )
    .await;
    assert!(
        alumni.get("/api/v1/me/contact-requests", Some(&hina_token)).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The address is free to join again.
    let again = alumni
        .app
        .post_json(
            "/api/v1/auth/register",
            &json!({"email": "aysel@example.org", "password": PASSWORD, "full_name": "Aysel M"}),
        )
        .await;
    assert_eq!(again.status(), 202);
    let _ = hina;
}

#[tokio::test]
async fn profile_input_is_checked_field_by_field() {
    let alumni = Alumni::start().await;
    let (_, token) = alumni.member("aysel@example.org", "Aysel Məmmədova", json!({})).await;
    let bad = alumni
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&token),
            Some(json!({
                "links": ["javascript:alert(1)", "https://ok.example"],
                "bio": "x".repeat(2001),
                "city": "\u{0007}bell",
                "listed_in_directory": null,
                "visibility": {"email": "everyone"}
            })),
        )
        .await;
    let errors = problem(bad, 422).await["errors"].clone();
    for field in ["links", "bio", "city", "listed_in_directory", "visibility.email"] {
        assert!(errors[field].is_array(), "{field}: {errors}");
    }
    let unknown_visibility = alumni
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&token),
            Some(json!({"visibility": {"password": "public"}})),
        )
        .await;
    problem(unknown_visibility, 422).await;
    let me: Value = alumni
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&token),
            Some(json!({"bio": "Two lines\nof bio", "visibility": {"email": "members"}})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["bio"], "Two lines\nof bio");
    assert_eq!(me["visibility"]["email"], "members");
    assert_eq!(
        me["visibility"]["city"], "members",
        "the default where no choice was made"
    );
    let cleared: Value = alumni
        .call(
            reqwest::Method::PATCH,
            "/api/v1/me",
            Some(&token),
            Some(json!({"visibility": {"email": null}})),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cleared["visibility"]["email"], "hidden",
        "back to the association's default"
    );
}

#[tokio::test]
async fn the_pages_of_profiles_programmes_introductions_and_the_board_work_in_a_browser() {
    let alumni = Alumni::start().await;
    let program = alumni.program("Karvan Semester Exchange").await;
    let (aysel, _) = alumni.member("aysel@example.org", "Aysel Məmmədova", json!({})).await;
    alumni.member("hina@example.org", "Hina Baloch", json!({})).await;
    let hina = alumni.signed_in("hina@example.org").await;

    // The profile form: hiding the city, then following the default again.
    let saved = hina
        .submit(
            "/me",
            "/me",
            &[
                ("full_name", "Hina Baloch"),
                ("city", "Lahore"),
                ("links", "https://example.org/hina\nhttps://example.org/cv"),
                ("listed_in_directory", "on"),
                ("visibility_city", "hidden"),
                ("visibility_email", "default"),
            ],
        )
        .await;
    assert_eq!(location(&saved), "/me?saved=profile");
    let city: Option<String> = {
        use karvan::db::schema::members::dsl::*;
        members
            .filter(email.eq("hina@example.org"))
            .select(city_visibility)
            .first(&mut alumni.app.conn())
            .unwrap()
    };
    assert_eq!(city.as_deref(), Some("hidden"));
    assert!(hina.page("/me").await.contains("https://example.org/cv"));

    // A record through the page; a bad one comes back with its notes.
    let bad = hina
        .submit(
            "/me/exchanges",
            "/me/exchanges",
            &[
                ("program_id", program.as_str()),
                ("start_date", "2019-09-01"),
                ("end_date", "2019-01-01"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains(r#"id="end_date-error""#));
    let added = hina
        .submit(
            "/me/exchanges",
            "/me/exchanges",
            &[
                ("program_id", program.as_str()),
                ("home_university", "LUMS"),
                ("host_university", "Baku State University"),
                ("field_of_study", "Economics"),
                ("degree_level", "master"),
                ("start_date", "2019-09-01"),
            ],
        )
        .await;
    assert_eq!(location(&added), "/me/exchanges");
    assert!(hina.page("/me/exchanges").await.contains("Baku State University"));

    // An introduction through the entry's form, answered on /me/contacts.
    let asked = hina
        .submit(
            &format!("/members/{aysel}"),
            &format!("/members/{aysel}/contact"),
            &[("message", "Salam from Lahore!")],
        )
        .await;
    assert_eq!(location(&asked), format!("/members/{aysel}?asked=1"));
    let aysel_browser = alumni.signed_in("aysel@example.org").await;
    let contacts = aysel_browser.page("/me/contacts").await;
    assert!(contacts.contains("Salam from Lahore!"));
    let request_id: uuid::Uuid = {
        use karvan::db::schema::contact_requests::dsl::*;
        contact_requests.select(id).first(&mut alumni.app.conn()).unwrap()
    };
    let accepted = aysel_browser
        .submit("/me/contacts", &format!("/me/contacts/{request_id}/accept"), &[])
        .await;
    assert_eq!(location(&accepted), "/me/contacts");
    assert!(aysel_browser.page("/me/contacts").await.contains("hina@example.org"));
    let export = aysel_browser.get("/me/export.json").await;
    assert!(export.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));

    // The board's pages render, and their forms work.
    let board = alumni.board_browser().await;
    for page in [
        "/admin/programs",
        "/admin/privacy",
        "/admin/roster",
        "/programs",
        "/members?q=hina",
    ] {
        board.page(page).await;
    }
    let created = board
        .submit(
            "/admin/programs",
            "/admin/programs",
            &[("name", "Silk Road Engineering Exchange")],
        )
        .await;
    assert_eq!(location(&created), "/admin/programs");
    let defaults = board
        .submit(
            "/admin/privacy",
            "/admin/privacy",
            &[("visibility_email", "members"), ("visibility_city", "public")],
        )
        .await;
    assert_eq!(location(&defaults), "/admin/privacy?saved=1");
    let record_id: uuid::Uuid = {
        use karvan::db::schema::exchange_records::dsl::*;
        exchange_records.select(id).first(&mut alumni.app.conn()).unwrap()
    };
    let hina_id = alumni
        .get(
            "/api/v1/me",
            Some(&token(&alumni.app, "hina@example.org", PASSWORD).await),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let verified = board
        .submit(
            &format!("/admin/members/{hina_id}"),
            &format!("/admin/exchanges/{record_id}/verify"),
            &[],
        )
        .await;
    assert_eq!(location(&verified), format!("/admin/members/{hina_id}"));
    assert!(hina.page("/me/exchanges").await.contains("verified"));
    let export = board.get("/admin/roster/export.csv").await;
    assert_eq!(export.status(), 200);
    assert!(export.text().await.unwrap().contains("hina@example.org"));
    // A member is kept out of the board's pages.
    assert_eq!(hina.get("/admin/roster").await.status(), 403);
}

/// A record changed from two places at once keeps both changes: the second
/// is made over the first, not over what both had read.
#[tokio::test]
async fn two_changes_of_one_record_at_once_keep_both() {
    let alumni = Alumni::start().await;
    let (_, token) = alumni.member("aysel@example.org", "Aysel Məmmədova", json!({})).await;
    let program = alumni.program("Karvan Semester Exchange").await;
    let record = alumni.record(&token, &program, "ADA University", "2019-09-01").await;
    let id: uuid::Uuid = record["id"].as_str().unwrap().parse().unwrap();

    // The first change holds the record while it is made (a transaction of
    // the test's own), and a second is sent meanwhile.
    let mut first = alumni.app.conn();
    diesel::sql_query("BEGIN").execute(&mut first).unwrap();
    diesel::sql_query("UPDATE exchange_records SET field_of_study = 'Physics' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(id)
        .execute(&mut first)
        .unwrap();
    let path = format!("/api/v1/me/exchanges/{id}");
    let second = alumni.call(
        reqwest::Method::PATCH,
        &path,
        Some(&token),
        Some(json!({"host_university": "Khazar University"})),
    );
    // Commit once the second change waits on the held record: then it can
    // only have read the record after the first change.
    let mut watcher = alumni.app.conn();
    let (second, waited) = tokio::join!(second, async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut waited = false;
        while !waited && std::time::Instant::now() < deadline {
            waited = crate::helpers::lock_waiters(&mut watcher) > 0;
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        diesel::sql_query("COMMIT").execute(&mut first).unwrap();
        waited
    });
    assert!(waited, "the second change never waited for the held record");
    assert_eq!(second.status(), 200);
    let changed: Value = second.json().await.unwrap();
    assert_eq!(changed["host_university"], "Khazar University");
    assert_eq!(changed["field_of_study"], "Physics", "the first change is kept");
}

/// Links an earlier, looser check took (an IDN host, an IP address) stay
/// savable: sent back as stored they pass, where a new one of the kind is
/// refused; the profile page, which sends every link, saves too.
#[tokio::test]
async fn links_stored_under_an_older_rule_can_be_sent_back() {
    let alumni = Alumni::start().await;
    let (_, token) = alumni.member("aysel@example.org", "Aysel Məmmədova", json!({})).await;
    let old = ["https://bakı.az/aysel", "http://192.168.0.10:8080/cv"];
    {
        use karvan::db::schema::members::dsl::*;
        diesel::update(members.filter(email.eq("aysel@example.org")))
            .set(links.eq(old.iter().map(|l| Some(l.to_string())).collect::<Vec<_>>()))
            .execute(&mut alumni.app.conn())
            .unwrap();
    }
    let patch = |body: Value| alumni.call(reqwest::Method::PATCH, "/api/v1/me", Some(&token), Some(body));

    let kept = patch(json!({"city": "Baku", "links": [old[0], old[1], "https://example.org/new"]})).await;
    assert_eq!(kept.status(), 200, "{}", kept.text().await.unwrap());
    let kept: Value = kept.json().await.unwrap();
    assert_eq!(kept["links"], json!([old[0], old[1], "https://example.org/new"]));
    assert_eq!(kept["city"], "Baku");

    for new in ["http://10.0.0.1/", "https://ə.org/"] {
        let refused = problem(patch(json!({"links": [old[0], new]})).await, 422).await;
        assert!(refused["errors"]["links"].is_array(), "{new}: {refused}");
    }

    let aysel = alumni.signed_in("aysel@example.org").await;
    let saved = aysel
        .submit(
            "/me",
            "/me",
            &[
                ("full_name", "Aysel Məmmədova"),
                ("city", "Ganja"),
                ("links", &format!("{}\r\n{}", old[0], old[1])),
            ],
        )
        .await;
    assert_eq!(location(&saved), "/me?saved=profile");
    let me: Value = alumni
        .call(reqwest::Method::GET, "/api/v1/me", Some(&token), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((&me["city"], &me["links"]), (&json!("Ganja"), &json!(old)));
}
