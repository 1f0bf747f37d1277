//! Pages: `/events` and `/events/{id}` (members read and answer, and take
//! the `.ics`), `/admin/events` (the board drafts, publishes, changes,
//! cancels, and sees who answered).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::csv_download;
use crate::auth::csrf;
use crate::auth::session::Page;
use crate::db::{self, DbPool};
use crate::email::MailContext;
use crate::error::AppError;
use crate::events::api::{answers_csv, ics_response, CancelInput};
use crate::events::emails::when_in;
use crate::events::model::{place, Event, EventInput, EventView, RsvpRow, CANCELLED, DRAFT, GOING, WAITLISTED};
use crate::events::{ics, store};
use crate::pages::{redirect, render, render_with_status, FormErrors, Layout};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/events").get(events_page))
        .service(web::resource("/events/{id}.ics").get(event_ics))
        .service(web::resource("/events/{id}").get(event_page))
        .service(web::resource("/events/{id}/rsvp").post(rsvp_submit))
        .service(web::resource("/admin/events").get(admin_events_page))
        .service(
            web::resource("/admin/events/new")
                .get(new_event_page)
                .post(create_submit),
        )
        .service(
            web::resource("/admin/events/{id}")
                .get(edit_event_page)
                .post(update_submit),
        )
        .service(web::resource("/admin/events/{id}/publish").post(publish_submit))
        .service(web::resource("/admin/events/{id}/cancel").post(cancel_submit))
        .service(web::resource("/admin/events/{id}/rsvps.csv").get(answers_download));
}

/// An event as a list or a page shows it, with times in the viewer's zone.
struct Shown {
    view: EventView,
    when: String,
    place: String,
    seats: String,
}

impl Shown {
    fn new(view: EventView, page: &Page) -> Self {
        let when = when_in(view.starts_at, view.ends_at, page.time_zone());
        let place = place(view.location.as_deref(), view.online_url.as_deref());
        let seats = match view.seats_left() {
            None => String::new(),
            Some(0) if view.waitlist_count > 0 => format!("Full: {} on the waitlist", view.waitlist_count),
            Some(0) => "Full: answering puts you on the waitlist".into(),
            Some(1) => "1 seat left".into(),
            Some(n) => format!("{n} seats left"),
        };
        Self {
            view,
            when,
            place,
            seats,
        }
    }

    fn answer(&self) -> &'static str {
        match self.view.my_rsvp.as_deref() {
            Some(GOING) => "You are going",
            Some(WAITLISTED) => "You are on the waitlist",
            Some(_) => "You are not going",
            None => "",
        }
    }

    fn status_label(&self) -> &'static str {
        match self.view.status.as_str() {
            DRAFT => "Draft",
            CANCELLED => "Cancelled",
            _ => "",
        }
    }

    fn upcoming(&self) -> bool {
        self.view.starts_at > Utc::now() && self.view.status != CANCELLED
    }
}

#[derive(Template)]
#[template(path = "pages/events/list.html")]
struct EventsPage {
    layout: Layout,
    events: Vec<Shown>,
}

async fn events_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let member = page.active("Events open")?.clone();
    let (views, _) = db::run(&pool, move |conn| {
        store::list(conn, &member, false, Some(Utc::now()), None, 1, 100)
    })
    .await?;
    render(&EventsPage {
        layout: page.layout("Events"),
        events: views.into_iter().map(|v| Shown::new(v, &page)).collect(),
    })
}

#[derive(Template)]
#[template(path = "pages/events/event.html")]
struct EventPage {
    layout: Layout,
    event: Shown,
    is_admin: bool,
}

async fn event_page(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let member = page.active("Events open")?.clone();
    let id = id.into_inner();
    let is_admin = member.is_admin();
    let view = db::run(&pool, move |conn| store::view(conn, id, &member)).await?;
    render(&EventPage {
        layout: page.layout(view.title.clone()),
        event: Shown::new(view, &page),
        is_admin,
    })
}

/// The `.ics` from the page: the same file as the API's, for the browser.
async fn event_ics(
    page: Page,
    id: web::Path<Uuid>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    let admin = page.active("Events open")?.is_admin();
    let id = id.into_inner();
    let event = db::run(&pool, move |conn| store::find(conn, id, admin)).await?;
    let body = ics::calendar(std::slice::from_ref(&event), &mail, &event.title, "PUBLISH", Utc::now());
    Ok(ics_response(body, "event.ics"))
}

#[derive(Deserialize)]
struct RsvpForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    status: String,
}

async fn rsvp_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<RsvpForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let member = page.active("Events open")?.clone();
    let going = crate::events::model::RsvpInput {
        status: form.status.clone(),
    }
    .going()?;
    let id = id.into_inner();
    let mail = mail.get_ref().clone();
    db::run(&pool, move |conn| store::rsvp(conn, &member, id, going, &mail)).await?;
    Ok(redirect(&format!("/events/{id}")))
}

// ---- The board ----

#[derive(Template)]
#[template(path = "pages/admin/events.html")]
struct AdminEventsPage {
    layout: Layout,
    events: Vec<Shown>,
}

async fn admin_events_page(page: Page, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?.clone();
    // Everything from a month ago on, drafts included.
    let from = Utc::now() - chrono::Duration::days(31);
    let (views, _) = db::run(&pool, move |conn| {
        store::list(conn, &admin, true, Some(from), None, 1, 100)
    })
    .await?;
    render(&AdminEventsPage {
        layout: page.layout("Events"),
        events: views.into_iter().map(|v| Shown::new(v, &page)).collect(),
    })
}

/// The event form: times as the board types them, local to the zone chosen.
#[derive(Debug, Default, Clone, Deserialize)]
struct EventForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description_md: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    online_url: String,
    #[serde(default)]
    capacity: String,
}

impl EventForm {
    fn of(event: &Event) -> Self {
        let zone = event.zone();
        let local = |at: chrono::DateTime<Utc>| at.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string();
        Self {
            csrf_token: String::new(),
            title: event.title.clone(),
            description_md: event.description_md.clone(),
            starts_at: local(event.starts_at),
            ends_at: local(event.ends_at),
            time_zone: event.time_zone.clone(),
            location: event.location.clone().unwrap_or_default(),
            online_url: event.online_url.clone().unwrap_or_default(),
            capacity: event.capacity.map(|c| c.to_string()).unwrap_or_default(),
        }
    }

    /// The input over a stored event: a time left as the form showed it
    /// (in minutes, in the same zone) keeps the stored moment, so saving
    /// an unchanged form never moves the event (seconds, or the hour that
    /// repeats when clocks go back).
    fn input_over(&self, existing: &Event) -> Result<EventInput, AppError> {
        let shown = Self::of(existing);
        let mut input = self.input()?;
        if self.time_zone.trim() == shown.time_zone {
            if self.starts_at.trim() == shown.starts_at {
                input.starts_at = None;
            }
            if self.ends_at.trim() == shown.ends_at {
                input.ends_at = None;
            }
        }
        Ok(input)
    }

    /// The input, or the capacity's own error when it is not a number.
    fn input(&self) -> Result<EventInput, AppError> {
        let capacity = match self.capacity.trim() {
            "" => None,
            text => match text.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    return Err(AppError::invalid_field(
                        "capacity",
                        "must be a whole number, or empty for no limit",
                    ))
                }
            },
        };
        Ok(EventInput {
            title: Some(self.title.clone()),
            description_md: Some(crate::pages::typed_lines(&self.description_md)),
            starts_at: Some(self.starts_at.clone()),
            ends_at: Some(self.ends_at.clone()),
            // Typed by a person; the API takes a zone's name exactly as listed.
            time_zone: Some(self.time_zone.trim().to_string()),
            location: Some(Some(self.location.clone())),
            online_url: Some(Some(self.online_url.clone())),
            capacity: Some(capacity),
        })
    }
}

#[derive(Template)]
#[template(path = "pages/admin/event.html")]
struct EditEventPage {
    layout: Layout,
    /// `None` while creating.
    event: Option<Shown>,
    form: EventForm,
    errors: FormErrors,
    answers: Vec<RsvpRow>,
}

impl EditEventPage {
    fn cancelled(&self) -> bool {
        self.event.as_ref().is_some_and(|e| e.view.status == CANCELLED)
    }

    fn action(&self) -> String {
        match &self.event {
            Some(event) => format!("/admin/events/{}", event.view.id),
            None => "/admin/events/new".into(),
        }
    }
}

async fn new_event_page(page: Page, site: web::Data<crate::pages::SiteInfo>) -> Result<HttpResponse, AppError> {
    page.admin()?;
    render(&EditEventPage {
        layout: page.layout("New event"),
        event: None,
        form: EventForm {
            time_zone: site.time_zone.name().to_string(),
            ..EventForm::default()
        },
        errors: FormErrors::default(),
        answers: Vec::new(),
    })
}

async fn create_submit(
    req: HttpRequest,
    page: Page,
    form: web::Form<EventForm>,
    pool: web::Data<DbPool>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let form = form.into_inner();
    let result = match form.input().and_then(|input| input.checked(None)) {
        Ok(values) => db::run(&pool, move |conn| store::create(conn, admin, &values)).await,
        Err(e) => Err(e),
    };
    match FormErrors::from_result(result)? {
        Ok(event) => Ok(redirect(&format!("/admin/events/{}", event.id))),
        Err(errors) => render_with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EditEventPage {
                layout: page.layout("New event"),
                event: None,
                form,
                errors,
                answers: Vec::new(),
            },
        ),
    }
}

async fn show_edit(
    page: &Page,
    pool: &DbPool,
    id: Uuid,
    status: StatusCode,
    form: Option<EventForm>,
    errors: FormErrors,
) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?.clone();
    let (event, view, answers) = db::run(pool, move |conn| {
        let event = store::find(conn, id, true)?;
        let view = store::view(conn, id, &admin)?;
        let answers = store::answers(conn, id)?;
        Ok::<_, AppError>((event, view, answers))
    })
    .await?;
    render_with_status(
        status,
        &EditEventPage {
            layout: page.layout(event.title.clone()),
            form: form.unwrap_or_else(|| EventForm::of(&event)),
            event: Some(Shown::new(view, page)),
            errors,
            answers,
        },
    )
}

async fn edit_event_page(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    show_edit(
        &page,
        &pool,
        id.into_inner(),
        StatusCode::OK,
        None,
        FormErrors::default(),
    )
    .await
}

async fn update_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<EventForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let id = id.into_inner();
    let form = form.into_inner();
    let mail_context = mail.get_ref().clone();
    let sent = form.clone();
    let result = db::run(&pool, move |conn| {
        store::update(
            conn,
            admin,
            id,
            |existing| sent.input_over(existing)?.checked(Some(existing)),
            &mail_context,
        )
    })
    .await;
    match FormErrors::from_result(result)? {
        Ok(_) => Ok(redirect(&format!("/admin/events/{id}"))),
        Err(errors) => show_edit(&page, &pool, id, StatusCode::UNPROCESSABLE_ENTITY, Some(form), errors).await,
    }
}

#[derive(Deserialize)]
struct PublishForm {
    #[serde(default)]
    csrf_token: String,
    notify: Option<String>,
}

async fn publish_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<PublishForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let id = id.into_inner();
    let notify = form.notify.is_some();
    let mail = mail.get_ref().clone();
    db::run(&pool, move |conn| store::publish(conn, admin, id, notify, &mail)).await?;
    Ok(redirect(&format!("/admin/events/{id}")))
}

#[derive(Deserialize)]
struct CancelForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    reason: String,
}

async fn cancel_submit(
    req: HttpRequest,
    page: Page,
    id: web::Path<Uuid>,
    form: web::Form<CancelForm>,
    pool: web::Data<DbPool>,
    mail: web::Data<MailContext>,
) -> Result<HttpResponse, AppError> {
    csrf::check(&req, &form.csrf_token)?;
    let admin = page.admin()?.id;
    let id = id.into_inner();
    let reason = CancelInput {
        reason: Some(crate::pages::typed_lines(&form.reason)),
    }
    .checked()?;
    let mail = mail.get_ref().clone();
    db::run(&pool, move |conn| store::cancel(conn, admin, id, &reason, &mail)).await?;
    Ok(redirect(&format!("/admin/events/{id}")))
}

async fn answers_download(page: Page, id: web::Path<Uuid>, pool: web::Data<DbPool>) -> Result<HttpResponse, AppError> {
    let admin = page.admin()?.id;
    let id = id.into_inner();
    let rows = db::run(&pool, move |conn| store::export_answers(conn, admin, id)).await?;
    Ok(csv_download(answers_csv(&rows)?, "rsvps.csv"))
}
