use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::Utc;

use crate::announcements::web::{shown, Shown as ShownAnnouncement};
use crate::auth::session::Page;
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::events::emails::when_in;
use crate::events::model::EventView;
use crate::pages::{render, Layout};

#[derive(Template)]
#[template(path = "pages/home.html")]
struct HomePage {
    layout: Layout,
    signed_in: bool,
    /// For active members: what is coming and what is new.
    events: Vec<(EventView, String)>,
    announcements: Vec<ShownAnnouncement>,
}

pub async fn home(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let active = page.member.clone().filter(|m| m.is_active());
    let (events, announcements) = match active {
        Some(member) => {
            db::run(&pool, move |conn| {
                let (events, _) = crate::events::store::list(conn, &member, false, Some(Utc::now()), None, 1, 3)?;
                let (news, _) = crate::announcements::store::list(conn, false, 1, 3)?;
                diesel::QueryResult::Ok((events, news))
            })
            .await?
        }
        None => (Vec::new(), Vec::new()),
    };
    let zone = page.time_zone();
    render(&HomePage {
        layout: page.layout("Welcome"),
        signed_in: page.member.is_some(),
        events: events
            .into_iter()
            .map(|e| {
                let when = when_in(e.starts_at, e.ends_at, zone);
                (e, when)
            })
            .collect(),
        announcements: shown(announcements, &page),
    })
}
