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

    /// A required text of `min..=max` characters, trimmed. As sent, it may
    /// not be longer than `max` either: the API document's `maxLength` (and
    /// the pages' `maxlength`) count what is sent.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let sent = value.chars().count();
        let value = value.trim();
        let length = value.chars().count();
        if sent > max {
            self.fail(field, format!("must be at most {max} characters"));
        } else if length < min {
            self.fail(
                field,
                if min == 1 {
                    "is required".into()
                } else {
                    format!("must be at least {min} characters")
                },
            );
        } else if value.chars().any(|c| c.is_control()) {
            self.fail(field, "must not contain control characters");
        }
        value.to_string()
    }

    /// A text of several lines (a reason, a message): line breaks and tabs
    /// are kept, a CRLF becomes LF, other control characters fail. Its
    /// length counts what is sent, CRLF as two (pages send what a person
    /// typed: `pages::typed_lines`).
    pub fn multiline_text(&mut self, field: &str, value: &str, min: usize, max: usize) -> String {
        let normalized = value.replace("\r\n", "\n");
        if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
            return normalized.trim().to_string();
        }
        let flattened: String = normalized
            .chars()
            .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
            .collect();
        self.text(field, &flattened, min, max);
        normalized.trim().to_string()
    }

    /// An optional text: blank counts as absent.
    pub fn optional_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let value = value?;
        if value.trim().is_empty() && value.chars().count() <= max {
            return None;
        }
        Some(self.text(field, value, 1, max))
    }

    /// A web address people can open: `http` or `https`, a host name (of
    /// letters, digits and hyphens, the last label starting with a letter:
    /// no IP address; no label with `--` third and fourth, as `xn--` starts
    /// punycode, which `url` may refuse), a port of up to 4 digits, then a
    /// path, query or fragment without spaces or control characters; one
    /// `url` reads. `openapi::web_address_pattern` is the same rule for API
    /// clients.
    pub fn is_web_address(value: &str) -> bool {
        let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
        let Some(rest) = ["https://", "http://"]
            .iter()
            .find(|scheme| lower.starts_with(**scheme))
            .map(|scheme| &value[scheme.len()..])
        else {
            return false;
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (host, port) = authority.split_once(':').unwrap_or((authority, "1"));
        let labels: Vec<&str> = host.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && l.get(2..4) != Some("--")
        };
        labels.iter().all(label_ok)
            && labels
                .last()
                .is_some_and(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
            && (1..=4).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && !tail.chars().any(|c| c == ' ' || c.is_control())
            && url::Url::parse(value).is_ok_and(|u| u.host().is_some())
    }

    /// An optional web address (blank counts as absent), at most `max` characters.
    pub fn optional_web_address(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let value = self.optional_text(field, value, max)?;
        if !Self::is_web_address(&value) {
            self.fail(field, "is not a web address (https://...)");
        }
        Some(value)
    }

    /// An IANA time zone name, as it is spelt (clients choose it from a
    /// list); `""` counts as absent.
    pub fn optional_time_zone(&mut self, field: &str, value: Option<&str>) -> Option<chrono_tz::Tz> {
        let value = value.filter(|v| !v.is_empty())?;
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

/// A date as JSON Schema's `format: date` has it (`2019-09-01`), and
/// nothing looser: chrono's `%m` would take `2019-9-1` too.
pub fn iso_date(text: &str) -> Option<chrono::NaiveDate> {
    let shape = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shape
        .then(|| chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// A time as JSON Schema's `format: date-time` has it (RFC 3339, `T`
/// between date and time), in UTC: chrono would take a space there too.
pub fn rfc3339(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    matches!(text.as_bytes().get(10), Some(b'T' | b't'))
        .then(|| chrono::DateTime::parse_from_rfc3339(text).ok())
        .flatten()
        .map(|at| at.with_timezone(&chrono::Utc))
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

/// A JSON body: an object read into `T`, or a problem (400/413/415 as
/// `error::json_error` answers them, 422 for another shape). Used instead
/// of `web::Json` because serde reads a struct from an array as well
/// (`[1, 2]` as the first two fields), which no client means and the
/// document does not allow.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use futures_util::FutureExt;
        let json = actix_web::web::Json::<serde_json::Value>::from_request(req, payload);
        async move { Ok(Json(from_object(json.await?.into_inner())?)) }.boxed_local()
    }
}

/// `T` read from a JSON object; anything else answers 422.
fn from_object<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, AppError> {
    object_from(value).map_err(|e| {
        AppError::new(crate::error::ErrorKind::Validation)
            .with_detail(format!("The JSON body does not have the expected shape: {e}"))
    })
}

/// `T` read from a JSON object, or what is wrong with it. A whole number
/// written with a fraction or an exponent (`1990.0`, `2e3`) is an integer
/// in JSON (and in the API document's schemas), though serde reads it as a
/// float that no integer field takes; it is made an integer first.
pub fn object_from<T: serde::de::DeserializeOwned>(mut value: serde_json::Value) -> Result<T, String> {
    if !value.is_object() {
        return Err("it must be a JSON object".into());
    }
    whole_numbers_as_integers(&mut value);
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) => {
            let whole = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15);
            if let (None, None, Some(f)) = (n.as_i64(), n.as_u64(), whole) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// For `#[serde(default, deserialize_with = "object")]` on a field that
/// holds a struct (`Option<T>`): it must be a JSON object or `null`, never
/// an array (see [`Json`]).
pub fn object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    match Option::<serde_json::Map<String, serde_json::Value>>::deserialize(d)? {
        None => Ok(None),
        Some(map) => serde_json::from_value(serde_json::Value::Object(map))
            .map(Some)
            .map_err(D::Error::custom),
    }
}

/// A JSON body that may be left out: no body (or an empty one), or `null`,
/// is `None`, but a body that is there must be a JSON object of `T`, or the
/// request answers 400/415/422 as any JSON body does.
/// (`Option<web::Json<T>>` took a body it could not read for none, and
/// acted on defaults the client did not ask for: `{"notfy": true}`
/// published an event without telling anyone.)
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
        let json = actix_web::web::Json::<serde_json::Value>::from_request(req, payload);
        async move {
            match json.await?.into_inner() {
                serde_json::Value::Null => Ok(OptionalJson(None)),
                value => Ok(OptionalJson(Some(from_object(value)?))),
            }
        }
        .boxed_local()
    }
}

#[cfg(test)]
mod tests {
    use super::{iso_date, object_from, rfc3339};
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    struct Year {
        year: i32,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Inner {
        count: u8,
    }

    #[test]
    fn a_body_is_an_object_whose_whole_numbers_are_integers_however_written() {
        let read = |value| object_from::<Year>(value);
        let year = read(json!({"year": 1990.0, "inner": {"count": 2e1}})).unwrap();
        assert_eq!((year.year, year.inner.unwrap().count), (1990, 20));
        assert_eq!(read(json!({"year": -5})).unwrap().year, -5);
        // Not whole, too large for the field, or not an object: refused.
        assert!(read(json!({"year": 1990.5})).is_err());
        assert!(read(json!({"year": 1e12})).is_err());
        assert!(read(json!({"year": 1e300})).is_err());
        assert!(read(json!([1990, null])).is_err());
        assert!(read(json!(null)).is_err());
    }

    /// What JSON Schema's `date` and `date-time` formats take, and only that.
    #[test]
    fn dates_and_times_are_read_as_their_formats_write_them() {
        assert_eq!(iso_date("2019-09-01").unwrap().to_string(), "2019-09-01");
        for wrong in [
            "2019-9-1",
            " 2019-09-01",
            "2019-09-01 ",
            "+2019-09-01",
            "2019-02-30",
            "2019/09/01",
            "",
        ] {
            assert!(iso_date(wrong).is_none(), "{wrong:?}");
        }
        let at = rfc3339("2026-12-01T09:00:00+05:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-01T04:00:00+00:00");
        assert!(rfc3339("2026-12-01t04:00:00.5z").is_some());
        for wrong in [
            "2026-12-01 04:00:00Z",
            "2026-12-01T04:00:00",
            " 2026-12-01T04:00:00Z",
            "2026-12-01",
        ] {
            assert!(rfc3339(wrong).is_none(), "{wrong:?}");
        }
    }
}
