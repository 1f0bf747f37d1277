//! One error type for the whole service: a kind that decides the status, what
//! the client may be told, and the cause that only the log sees.
//!
//! Every error answers as RFC 9457 `application/problem+json`; the page
//! middleware in `crate::pages` turns it into an HTML page outside `/api/`.

use std::collections::BTreeMap;
use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Validation,
    RateLimited,
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind for an error response that did not come from an `AppError`.
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            405 => ErrorKind::MethodNotAllowed,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::PayloadTooLarge,
            415 => ErrorKind::UnsupportedMediaType,
            422 => ErrorKind::Validation,
            429 => ErrorKind::RateLimited,
            503 => ErrorKind::Unavailable,
            400..=499 => ErrorKind::BadRequest,
            _ => ErrorKind::Internal,
        }
    }

    /// The problem `type`: stable, so clients can branch on it.
    pub fn slug(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad-request",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not-found",
            ErrorKind::MethodNotAllowed => "method-not-allowed",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PayloadTooLarge => "payload-too-large",
            ErrorKind::UnsupportedMediaType => "unsupported-media-type",
            ErrorKind::Validation => "validation",
            ErrorKind::RateLimited => "rate-limited",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "The request could not be read",
            ErrorKind::Unauthorized => "You need to sign in",
            ErrorKind::Forbidden => "You are not allowed to do this",
            ErrorKind::NotFound => "Not found",
            ErrorKind::MethodNotAllowed => "Method not allowed",
            ErrorKind::Conflict => "This conflicts with what is already there",
            ErrorKind::PayloadTooLarge => "The request is too large",
            ErrorKind::UnsupportedMediaType => "Unsupported content type",
            ErrorKind::Validation => "Some fields need attention",
            ErrorKind::RateLimited => "Too many attempts",
            ErrorKind::Unavailable => "The service is briefly unavailable",
            ErrorKind::Internal => "Something went wrong on our side",
        }
    }
}

/// Field name → messages, as in `{"errors": {"email": ["..."]}}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

pub struct AppError {
    pub kind: ErrorKind,
    /// Safe to show the client. Never set from a cause's text for 5xx.
    pub detail: Option<String>,
    pub field_errors: FieldErrors,
    pub retry_after_secs: Option<u64>,
    /// For the log only.
    pub cause: Option<anyhow::Error>,
}

impl AppError {
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            detail: None,
            field_errors: FieldErrors::new(),
            retry_after_secs: None,
            cause: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_cause(mut self, cause: impl Into<anyhow::Error>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest).with_detail(detail)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorKind::NotFound)
    }

    pub fn forbidden() -> Self {
        Self::new(ErrorKind::Forbidden)
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorKind::Unauthorized)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict).with_detail(detail)
    }

    /// A validation failure on named fields.
    pub fn validation(field_errors: FieldErrors) -> Self {
        Self {
            field_errors,
            ..Self::new(ErrorKind::Validation).with_detail("Some fields are not valid; see `errors`.")
        }
    }

    /// A 409 that names the field it is about, so that a form shows it
    /// there: the request is well formed, but the state of things refuses
    /// it (a name already taken). A 422 would tell an API client that
    /// another value of the same shape might pass the checks.
    pub fn conflict_on_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut errors = FieldErrors::new();
        errors.entry(field.to_string()).or_default().push(message.clone());
        Self {
            field_errors: errors,
            ..Self::conflict(format!("The {field} {message}."))
        }
    }

    /// A validation failure on one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.entry(field.to_string()).or_default().push(message.into());
        Self::validation(errors)
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..Self::new(ErrorKind::RateLimited).with_detail("Too many attempts; try again later.")
        }
    }

    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            retry_after_secs: Some(5),
            ..Self::new(ErrorKind::Unavailable)
                .with_detail("The database is not answering; try again in a moment.")
                .with_cause(cause)
        }
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::new(ErrorKind::Internal).with_cause(cause)
    }

    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// What a client may read: a 5xx says nothing about its cause.
    pub fn public_detail(&self) -> Option<&str> {
        match self.kind {
            ErrorKind::Internal => None,
            _ => self.detail.as_deref(),
        }
    }

    pub fn problem(&self) -> Problem<'_> {
        Problem {
            problem_type: format!("urn:karvan:problem:{}", self.kind.slug()),
            title: self.kind.title(),
            status: self.status().as_u16(),
            detail: self.public_detail(),
            errors: (!self.field_errors.is_empty()).then_some(&self.field_errors),
        }
    }
}

/// The RFC 9457 body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(
    title = "Problem",
    description = "An error (RFC 9457 problem details).",
    example = json!({"type": "urn:karvan:problem:validation", "title": "The request has invalid fields",
                     "status": 422, "errors": {"email": ["is not an email address"]}})
)]
pub struct Problem<'a> {
    /// A URN naming the kind of problem, e.g. `urn:karvan:problem:not-found`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: &'a str,
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
    /// For a 422: each bad field (or parameter) and what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, Vec<String>>>)]
    pub errors: Option<&'a FieldErrors>,
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        if let Some(cause) = &self.cause {
            write!(f, "\ncaused by: {cause:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.title())?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        if let Some(cause) = &self.cause {
            write!(f, ": {cause:#}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AppError {}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if self.status().is_server_error() {
            tracing::error!(error = ?self, "request failed");
        } else if self.cause.is_some() {
            tracing::debug!(error = ?self, "request refused");
        }
        let mut response = HttpResponse::build(self.status());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => AppError::not_found(),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AppError::conflict("This already exists.").with_cause(error)
            }
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::ReadOnlyTransaction, _)
            | Error::BrokenTransactionManager => AppError::unavailable(error),
            // A reference or a check that fails names something that does not
            // exist or cannot be: the request's fault, never a 500.
            Error::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::NotNullViolation,
                _,
            ) => AppError::new(ErrorKind::Validation)
                .with_detail("The request refers to something that does not exist or is not allowed.")
                .with_cause(error),
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                AppError::unavailable(error).with_detail("The database was busy; try again.")
            }
            other => AppError::internal(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for AppError {
    /// A pool checkout that timed out: the database is down or saturated.
    fn from(error: diesel::r2d2::PoolError) -> Self {
        AppError::unavailable(error)
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        AppError::internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        AppError::internal(error)
    }
}

/// Extractor failures answer problems instead of actix's plain-text bodies.
pub fn json_error(error: actix_web::error::JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let app_error = match &error {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => {
            AppError::new(ErrorKind::PayloadTooLarge).with_detail("The JSON body is too large.")
        }
        E::ContentType => AppError::new(ErrorKind::UnsupportedMediaType)
            .with_detail("Send the body as JSON with Content-Type: application/json."),
        E::Deserialize(inner) if inner.is_data() => AppError::new(ErrorKind::Validation)
            .with_detail(format!("The JSON body does not have the expected shape: {inner}")),
        E::Deserialize(inner) => AppError::bad_request(format!("The body is not valid JSON: {inner}")),
        _ => AppError::bad_request("The body could not be read."),
    };
    app_error.with_cause(anyhow::anyhow!("{error}")).into()
}

pub fn query_error(error: actix_web::error::QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    AppError::new(ErrorKind::Validation)
        .with_detail(format!("The query string is not valid: {error}"))
        .into()
}

pub fn path_error(error: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    // A path that does not parse (an id that is not a UUID) names nothing that exists.
    AppError::not_found().with_cause(anyhow::anyhow!("{error}")).into()
}

pub fn form_error(error: actix_web::error::UrlencodedError, _req: &HttpRequest) -> actix_web::Error {
    use actix_web::error::UrlencodedError as E;
    let app_error = match &error {
        E::Overflow { .. } => AppError::new(ErrorKind::PayloadTooLarge).with_detail("The form is too large."),
        E::ContentType => AppError::new(ErrorKind::UnsupportedMediaType).with_detail("Send the form as a web form."),
        _ => AppError::bad_request("The form could not be read."),
    };
    app_error.with_cause(anyhow::anyhow!("{error}")).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(error: AppError) -> (StatusCode, serde_json::Value, Option<String>) {
        let response = error.error_response();
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
        let bytes = to_bytes(response.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), retry)
    }

    #[actix_web::test]
    async fn an_internal_error_tells_the_client_nothing_of_its_cause() {
        let (status, body, _) = body_of(AppError::internal(anyhow::anyhow!(
            "password=hunter2 at db.internal:5432"
        )))
        .await;
        assert_eq!(status, 500);
        assert!(!body.to_string().contains("hunter2"), "{body}");
        assert!(!body.to_string().contains("db.internal"), "{body}");
        assert_eq!(body["status"], 500);
    }

    #[actix_web::test]
    async fn validation_errors_carry_their_fields() {
        let (status, body, _) = body_of(AppError::invalid_field("email", "is not an email address")).await;
        assert_eq!(status, 422);
        assert_eq!(body["type"], "urn:karvan:problem:validation");
        assert_eq!(body["errors"]["email"][0], "is not an email address");
    }

    #[actix_web::test]
    async fn a_pool_timeout_answers_503_with_retry_after() {
        // A pool whose only connection can never be made: checkout times out.
        let manager = diesel::r2d2::ConnectionManager::<diesel::PgConnection>::new(
            "postgres://nobody@127.0.0.1:1/none?connect_timeout=1",
        );
        let pool = diesel::r2d2::Pool::builder()
            .max_size(1)
            .connection_timeout(std::time::Duration::from_millis(200))
            .build_unchecked(manager);
        let Err(pool_error) = pool.get() else {
            panic!("nothing listens on port 1")
        };
        let error = AppError::from(pool_error);
        let (status, body, retry) = body_of(error).await;
        assert_eq!(status, 503);
        assert_eq!(body["type"], "urn:karvan:problem:unavailable");
        assert_eq!(retry.as_deref(), Some("5"));
    }

    #[actix_web::test]
    async fn diesel_not_found_is_404_and_unique_violation_409() {
        assert_eq!(AppError::from(diesel::result::Error::NotFound).status(), 404);
        let unique = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            Box::new("duplicate key".to_string()),
        );
        assert_eq!(AppError::from(unique).status(), 409);
    }
}
