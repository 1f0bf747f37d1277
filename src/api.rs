//! What every JSON endpoint shares: field checks that answer 422 with all
//! their errors at once, and paginated lists.

use serde::{Deserialize, Deserializer, Serialize};

/// For `#[serde(default, deserialize_with = "present")]` on an
/// `Option<Option<T>>`: tells a field sent as `null` (`Some(None)`: clear
/// it) from one not sent (`None`: leave it).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

use crate::error::{AppError, FieldErrors};

/// At most `max_chars` characters of `text` (never cut inside a character).
pub fn shorten(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// Collects field errors, then answers 422 with all of them at once.
#[derive(Default)]
pub struct Checks(FieldErrors);

impl Checks {
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_default().push(message.into());
    }

    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::validation(self.0))
        }
    }

    /// A required text of `min..=max` characters, trimmed.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let value = value.trim();
        let length = value.chars().count();
        if length < min {
            self.fail(
                field,
                if min == 1 {
                    "is required".into()
                } else {
                    format!("must be at least {min} characters")
                },
            );
        } else if length > max {
            self.fail(field, format!("must be at most {max} characters"));
        } else if value.chars().any(|c| c.is_control()) {
            self.fail(field, "must not contain control characters");
        }
        value.to_string()
    }

    /// A text of several lines (a reason, a message): line breaks and tabs
    /// are kept, a browser's CRLF becomes LF, other control characters fail.
    pub fn multiline_text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let normalized = value.replace("\r\n", "\n");
        let flattened: String = normalized
            .chars()
            .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
            .collect();
        self.text(field, &flattened, min, max);
        normalized.trim().to_string()
    }

    /// An optional text: blank counts as absent.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        Some(self.text(field, value, 1, max))
    }

    /// A web address people can open: http or https with a host.
    pub fn is_web_address(value: &str) -> bool {
        url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
    }

    /// An optional web address (blank counts as absent), at most `max` characters.
    pub fn optional_web_address(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let value = self.optional_text(field, value, max)?;
        if !Self::is_web_address(&value) {
            self.fail(field, "is not a web address (https://...)");
        }
        Some(value)
    }

    /// An IANA time zone name; blank counts as absent.
    pub fn optional_time_zone(&mut self, field: &str, value: Option<&str>) -> Option<chrono_tz::Tz> {
        let value = value.map(str::trim).filter(|v| !v.is_empty())?;
        let zone = value.parse::<chrono_tz::Tz>().ok();
        if zone.is_none() {
            self.fail(field, "is not a time zone like Asia/Karachi or Asia/Baku");
        }
        zone
    }

    /// An address mail can be sent to: `user@domain.tld`, nothing exotic
    /// (no quoted local parts, no IP literals), at most 254 bytes.
    pub fn email(&mut self, field: &str, value: &str) -> String {
        let value = value.trim();
        let plain = !value.contains(['"', '[', ']', ' ', '\\', '(', ')', ',', ';', '<', '>'])
            && value
                .rsplit_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if value.len() > 254 || !plain || value.parse::<lettre::Address>().is_err() {
            self.fail(field, "is not an email address");
        }
        value.to_string()
    }
}

/// `?page=1&per_page=20` (at most 100). Filters that add fields repeat
/// `page` and `per_page` rather than flatten this: serde's flatten loses the
/// number types of a query string.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pagination {
    /// From 1 (the default).
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// From 1 to 100; 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<i64>,
}

impl Pagination {
    pub const MAX_PER_PAGE: i64 = 100;

    /// The page and page size asked for, or a 422 naming the bad one.
    pub fn checked(self) -> Result<(i64, i64), AppError> {
        let mut checks = Checks::default();
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if !(1..=1_000_000).contains(&page) {
            checks.fail("page", "must be a whole number from 1");
        }
        if !(1..=Self::MAX_PER_PAGE).contains(&per_page) {
            checks.fail("per_page", format!("must be from 1 to {}", Self::MAX_PER_PAGE));
        }
        checks.finish()?;
        Ok((page, per_page))
    }
}

/// `{"items": [...], "page": 1, "per_page": 20, "total": N}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

impl<T> ListPage<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> ListPage<U> {
        ListPage {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            per_page: self.per_page,
            total: self.total,
        }
    }

    /// Whether a page follows this one (for "next" links on pages).
    pub fn has_next(&self) -> bool {
        self.page * self.per_page < self.total
    }
}

/// A CSV file to download; never cached (it holds members' data).
pub fn csv_download(bytes: Vec<u8>, filename: &str) -> actix_web::HttpResponse {
    use actix_web::http::header;
    actix_web::HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes)
}

/// A CSV cell a spreadsheet would run as a formula gets a leading
/// apostrophe (which spreadsheets hide, and the roster import takes off again).
pub fn defused(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// A JSON body that may be left out: no body (or an empty one) is `None`,
/// but a body that is there must be valid JSON of `T`, or the request
/// answers 400/415/422 as any JSON body does. (`Option<web::Json<T>>` took a
/// body it could not read for none, and acted on defaults the client did not
/// ask for: `{"notfy": true}` published an event without telling anyone.)
pub struct OptionalJson<T>(pub Option<T>);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
        use futures_util::FutureExt;
        let headers = req.headers();
        let no_body = match headers.get(CONTENT_LENGTH) {
            Some(length) => length.to_str().is_ok_and(|l| l.trim() == "0"),
            None => !headers.contains_key(TRANSFER_ENCODING),
        };
        if no_body {
            return futures_util::future::ready(Ok(OptionalJson(None))).boxed_local();
        }
        let json = actix_web::web::Json::<T>::from_request(req, payload);
        async move { Ok(OptionalJson(Some(json.await?.into_inner()))) }.boxed_local()
    }
}
