//! Importing the roster. The file is read whole first (UTF-8, with or
//! without a byte-order mark; Urdu and Azerbaijani letters are kept), then
//! each row is checked and saved in its own savepoint, so a bad row is
//! reported and skipped and never undoes the good ones. A dry run does
//! everything in a transaction that is rolled back: its report is exact.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use crate::api::Checks;
use crate::audit;
use crate::auth::accounts::queue_invitation;
use crate::auth::password::NO_PASSWORD;
use crate::auth::store::{expire_email_tokens, VERIFY_EMAIL};
use crate::db::schema::members;
use crate::email::MailContext;
use crate::error::AppError;
use crate::members::model::{Member, INVITED, PENDING_VERIFICATION};
use crate::members::store::find_by_email;

/// The columns the import reads; `email` and `full_name` are required.
pub const COLUMNS: [&str; 7] = [
    "email",
    "full_name",
    "graduation_year",
    "university",
    "country",
    "city",
    "profession",
];
/// Columns an export writes that the import knows and leaves alone.
const EXPORT_ONLY: [&str; 3] = ["status", "role", "joined_at"];

/// Largest file taken (about 200,000 rows of a typical roster).
pub const MAX_BYTES: usize = 50 * 1024 * 1024;

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub dry_run: bool,
    /// Rows read, after the header.
    pub rows: usize,
    pub created: Vec<Line>,
    /// Rows whose email matched a member: `changed` names what the row changed.
    pub matched: Vec<Line>,
    pub skipped: Vec<Skipped>,
    /// Columns the file has that the import does not read.
    pub ignored_columns: Vec<String>,
}

/// A row that created or matched a member.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Line {
    /// The row's line in the file.
    pub line: u64,
    pub email: String,
    /// The columns the row changed (absent for none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<&'static str>,
}

/// A row that was not saved, and why.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    /// The row's line in the file.
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub reasons: Vec<String>,
}

/// One row, checked.
struct Person {
    email: String,
    full_name: String,
    graduation_year: Option<i32>,
    university: Option<String>,
    country: Option<String>,
    city: Option<String>,
    profession: Option<String>,
}

/// A parsed file: the header's column positions and the raw rows.
pub struct Parsed {
    columns: HashMap<&'static str, usize>,
    ignored_columns: Vec<String>,
    rows: Vec<(u64, csv::ByteRecord)>,
}

impl Parsed {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Reads the header and the rows; a file without the required columns (or
/// not CSV at all) is refused as a whole, naming what is missing.
pub fn parse(bytes: &[u8]) -> Result<Parsed, AppError> {
    if bytes.len() > MAX_BYTES {
        return Err(AppError::invalid_field(
            "file",
            format!("is larger than {} MB", MAX_BYTES / 1024 / 1024),
        ));
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(AppError::invalid_field(
            "file",
            "is UTF-16 text; save it as \"CSV UTF-8\" and import that",
        ));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| AppError::invalid_field("file", format!("is not a CSV file: {e}")))?
        .clone();
    let mut columns = HashMap::new();
    let mut ignored_columns = Vec::new();
    for (index, name) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(name)
            .trim()
            .to_lowercase()
            .replace([' ', '-'], "_");
        match COLUMNS.iter().find(|c| **c == name) {
            Some(column) => {
                columns.entry(*column).or_insert(index);
            }
            None if EXPORT_ONLY.contains(&name.as_str()) || name.is_empty() => {}
            None => ignored_columns.push(name),
        }
    }
    let missing: Vec<&str> = ["email", "full_name"]
        .into_iter()
        .filter(|c| !columns.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(AppError::invalid_field(
            "file",
            format!(
                "has no {} column (the first line must name the columns: {})",
                missing.join(" or "),
                COLUMNS.join(", ")
            ),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| AppError::invalid_field("file", format!("cannot be read as CSV: {e}")))?;
        // The reader places a record after blank lines at the first of
        // them; a person counts from the record's own line.
        let line = record.position().map_or(0, |p| {
            let blank = bytes[p.byte() as usize..]
                .iter()
                .take_while(|b| **b == b'\n' || **b == b'\r')
                .filter(|b| **b == b'\n')
                .count();
            p.line() + blank as u64
        });
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        rows.push((line, record));
    }
    Ok(Parsed {
        columns,
        ignored_columns,
        rows,
    })
}

/// A row's fields, checked; the reasons it cannot be taken otherwise.
fn person(parsed: &Parsed, record: &csv::ByteRecord) -> Result<Person, (Option<String>, Vec<String>)> {
    let mut reasons = Vec::new();
    let mut field = |name: &str| -> Option<String> {
        let index = *parsed.columns.get(name)?;
        let raw = record.get(index)?;
        match std::str::from_utf8(raw) {
            // An apostrophe before a formula character is the export's
            // guard against spreadsheets running the cell: taken off.
            Ok(text) => Some(match text.trim().strip_prefix('\'') {
                Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_string(),
                _ => text.trim().to_string(),
            })
            .filter(|t| !t.is_empty()),
            Err(_) => {
                reasons.push(format!("{name} is not UTF-8 text (save the file as CSV UTF-8)"));
                None
            }
        }
    };
    let email = field("email");
    let full_name = field("full_name");
    let year = field("graduation_year");
    let university = field("university");
    let country = field("country");
    let city = field("city");
    let profession = field("profession");
    if !reasons.is_empty() {
        // Text that is not UTF-8 cannot be checked any further.
        return Err((email, reasons));
    }

    let mut checks = Checks::default();
    let email_checked = match &email {
        Some(e) => Some(checks.email("email", e)),
        None => {
            checks.fail("email", "is missing");
            None
        }
    };
    let full_name = checks.text("full_name", full_name.as_deref().unwrap_or(""), 1, 200);
    let latest = crate::auth::accounts::latest_graduation_year();
    let graduation_year = match year {
        None => None,
        Some(y) => match y.parse::<i32>() {
            Ok(y) if (1900..=latest).contains(&y) => Some(y),
            _ => {
                checks.fail(
                    "graduation_year",
                    format!(
                        "'{}' is not a year between 1900 and {latest}",
                        crate::api::shorten(&y, 20)
                    ),
                );
                None
            }
        },
    };
    let university = checks.optional_text("university", university.as_deref(), 200);
    let country = checks.optional_text("country", country.as_deref(), 100);
    let city = checks.optional_text("city", city.as_deref(), 100);
    let profession = checks.optional_text("profession", profession.as_deref(), 200);
    if let Err(e) = checks.finish() {
        for (field, messages) in e.field_errors {
            for message in messages {
                reasons.push(format!("{} {message}", field.replace('_', " ")));
            }
        }
    }
    match email_checked {
        Some(email) if reasons.is_empty() => Ok(Person {
            email,
            full_name,
            graduation_year,
            university,
            country,
            city,
            profession,
        }),
        _ => Err((email, reasons)),
    }
}

/// What the row changes. For someone still only invited, the roster is the
/// record: its values replace theirs. A member who has signed in keeps what
/// they entered; the roster only fills what they left empty.
fn changes(member: &Member, p: &Person) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let roster_rules = member.status == INVITED;
    let differs =
        |now: &Option<String>, new: &Option<String>| new.is_some() && now != new && (roster_rules || now.is_none());
    if roster_rules && member.full_name != p.full_name {
        changed.push("full_name");
    }
    if p.graduation_year.is_some()
        && member.graduation_year != p.graduation_year
        && (roster_rules || member.graduation_year.is_none())
    {
        changed.push("graduation_year");
    }
    if differs(&member.university, &p.university) {
        changed.push("university");
    }
    if differs(&member.country, &p.country) {
        changed.push("country");
    }
    if differs(&member.city, &p.city) {
        changed.push("city");
    }
    if differs(&member.profession, &p.profession) {
        changed.push("profession");
    }
    changed
}

enum Outcome {
    Created,
    Matched(Vec<&'static str>),
}

fn save(conn: &mut PgConnection, mail: &MailContext, p: &Person) -> Result<Outcome, AppError> {
    if let Some(mut member) = find_by_email(conn, &p.email)? {
        if member.status == PENDING_VERIFICATION {
            // Signed up but never confirmed (perhaps not even by the owner of
            // the address): the roster's person is invited instead, and the
            // unconfirmed sign-up's password and links stop working.
            member = diesel::update(members::table.find(member.id))
                .set((
                    members::status.eq(INVITED),
                    members::password_hash.eq(NO_PASSWORD),
                    members::imported_at.eq(diesel::dsl::now),
                ))
                .returning(Member::as_returning())
                .get_result(conn)?;
            expire_email_tokens(conn, member.id, VERIFY_EMAIL)?;
            queue_invitation(conn, mail, &member)?;
        }
        let changed = changes(&member, p);
        if !changed.is_empty() {
            let pick = |field: &str, now: Option<String>, new: Option<String>| {
                if changed.contains(&field) {
                    new
                } else {
                    now
                }
            };
            diesel::update(members::table.find(member.id))
                .set((
                    members::full_name.eq(if changed.contains(&"full_name") {
                        &p.full_name
                    } else {
                        &member.full_name
                    }),
                    members::graduation_year.eq(if changed.contains(&"graduation_year") {
                        p.graduation_year
                    } else {
                        member.graduation_year
                    }),
                    members::university.eq(pick("university", member.university.clone(), p.university.clone())),
                    members::country.eq(pick("country", member.country.clone(), p.country.clone())),
                    members::city.eq(pick("city", member.city.clone(), p.city.clone())),
                    members::profession.eq(pick("profession", member.profession.clone(), p.profession.clone())),
                    members::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)?;
        }
        return Ok(Outcome::Matched(changed));
    }
    let member: Member = diesel::insert_into(members::table)
        .values((
            members::email.eq(&p.email),
            members::password_hash.eq(NO_PASSWORD),
            members::full_name.eq(&p.full_name),
            members::status.eq(INVITED),
            members::graduation_year.eq(p.graduation_year),
            members::university.eq(&p.university),
            members::country.eq(&p.country),
            members::city.eq(&p.city),
            members::profession.eq(&p.profession),
            members::imported_at.eq(diesel::dsl::now),
        ))
        .returning(Member::as_returning())
        .get_result(conn)?;
    queue_invitation(conn, mail, &member)?;
    Ok(Outcome::Created)
}

/// Imports the parsed rows; `progress` is told after each row. `actor` is
/// the admin (None: the CLI).
pub fn run(
    conn: &mut PgConnection,
    mail: &MailContext,
    parsed: Parsed,
    dry_run: bool,
    actor: Option<uuid::Uuid>,
    progress: &mut dyn FnMut(usize),
) -> Result<Report, AppError> {
    let mut report = Report {
        dry_run,
        rows: parsed.rows.len(),
        ignored_columns: parsed.ignored_columns.clone(),
        ..Report::default()
    };
    let outcome = conn.transaction::<_, Stop, _>(|conn| {
        let mut seen: HashMap<String, u64> = HashMap::new();
        for (done, (line, record)) in parsed.rows.iter().enumerate() {
            let line = *line;
            match person(&parsed, record) {
                Err((email, reasons)) => report.skipped.push(Skipped { line, email, reasons }),
                Ok(p) => {
                    let key = p.email.to_lowercase();
                    if let Some(first) = seen.get(&key) {
                        report.skipped.push(Skipped {
                            line,
                            email: Some(p.email),
                            reasons: vec![format!("the same email as line {first}")],
                        });
                    } else {
                        seen.insert(key, line);
                        // A savepoint: a row the database refuses is skipped alone.
                        match conn.transaction(|conn| save(conn, mail, &p)) {
                            Ok(Outcome::Created) => report.created.push(Line {
                                line,
                                email: p.email,
                                changed: vec![],
                            }),
                            Ok(Outcome::Matched(changed)) => report.matched.push(Line {
                                line,
                                email: p.email,
                                changed,
                            }),
                            Err(e) if e.kind == crate::error::ErrorKind::Unavailable => return Err(e.into()),
                            Err(e) => {
                                tracing::warn!(line, error = %e, "an imported row was refused by the database");
                                report.skipped.push(Skipped {
                                    line,
                                    email: Some(p.email),
                                    reasons: vec!["could not be saved; check its values".into()],
                                });
                            }
                        }
                    }
                }
            }
            progress(done + 1);
        }
        audit::record(
            conn,
            actor,
            "members.import",
            ("members", "*"),
            serde_json::json!({
                "dry_run": dry_run,
                "rows": report.rows,
                "created": report.created.len(),
                "matched": report.matched.len(),
                "skipped": report.skipped.len(),
            }),
        )?;
        if dry_run {
            // Everything undone: the report says what a real run would do.
            return Err(Stop::DryRun);
        }
        Ok(())
    });
    match outcome {
        Ok(()) | Err(Stop::DryRun) => Ok(report),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Why the import's transaction ends without committing.
enum Stop {
    DryRun,
    Failed(AppError),
}

impl From<AppError> for Stop {
    fn from(e: AppError) -> Self {
        Stop::Failed(e)
    }
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Self {
        Stop::Failed(e.into())
    }
}
