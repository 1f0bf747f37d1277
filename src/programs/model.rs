use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Checks;
use crate::db::schema::{exchange_programs, exchange_records};

pub const DEGREE_LEVELS: [&str; 6] = ["bachelor", "master", "doctorate", "postdoctoral", "non_degree", "staff"];

/// The values of `degree_level` (stored as text; this names them in the API's document).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DegreeLevel {
    Bachelor,
    Master,
    Doctorate,
    Postdoctoral,
    NonDegree,
    Staff,
}

/// A degree level as pages name it.
pub fn degree_label(level: &str) -> &'static str {
    match level {
        "bachelor" => "Bachelor's",
        "master" => "Master's",
        "doctorate" => "Doctorate",
        "postdoctoral" => "Postdoctoral",
        "non_degree" => "Exchange semester (no degree)",
        "staff" => "Staff or faculty exchange",
        _ => "",
    }
}

/// A programme of the catalogue.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = exchange_programs, check_for_backend(diesel::pg::Pg))]
pub struct Program {
    pub id: Uuid,
    pub name: String,
    pub sponsor: Option<String>,
    pub home_country: Option<String>,
    pub host_country: Option<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A programme as sent to create or change one; on change, fields not sent
/// stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramInput {
    /// Required to create one; unique in the catalogue.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(max_length = 200)]
    pub sponsor: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(max_length = 100)]
    pub home_country: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(max_length = 100)]
    pub host_country: Option<Option<String>>,
    /// Several lines allowed.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(max_length = 5000, content_media_type = "text/plain")]
    pub description: Option<Option<String>>,
}

#[derive(Debug, AsChangeset, Insertable)]
#[diesel(table_name = exchange_programs)]
pub struct ProgramChanges {
    pub name: Option<String>,
    pub sponsor: Option<Option<String>>,
    pub home_country: Option<Option<String>>,
    pub host_country: Option<Option<String>>,
    pub description: Option<Option<String>>,
}

impl ProgramInput {
    /// Checked; `creating` requires a name.
    pub fn checked(self, creating: bool) -> Result<ProgramChanges, crate::error::AppError> {
        let mut checks = Checks::default();
        let name = match self.name {
            Some(name) => Some(checks.text("name", &name, 1, 200)),
            None if creating => {
                checks.fail("name", "is required");
                None
            }
            None => None,
        };
        let mut optional = |field: &str, value: Option<Option<String>>, max: usize| {
            value.map(|v| checks.optional_text(field, v.as_deref(), max))
        };
        let sponsor = optional("sponsor", self.sponsor, 200);
        let home_country = optional("home_country", self.home_country, 100);
        let host_country = optional("host_country", self.host_country, 100);
        let description = self.description.map(|d| {
            d.map(|d| checks.multiline_text("description", &d, 0, 5000))
                .filter(|d| !d.is_empty())
        });
        checks.finish()?;
        Ok(ProgramChanges {
            name,
            sponsor,
            home_country,
            host_country,
            description,
        })
    }
}

/// A member's record of a programme, with the programme's name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExchangeRecord {
    pub id: Uuid,
    pub member_id: Uuid,
    pub program_id: Uuid,
    pub program_name: String,
    pub home_university: String,
    pub host_university: String,
    pub field_of_study: String,
    #[schema(value_type = DegreeLevel)]
    pub degree_level: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub scholarship: Option<String>,
    /// When the board verified it; a change by the member undoes it.
    pub verified_at: Option<DateTime<Utc>>,
    /// The admin who verified it.
    pub verified_by: Option<Uuid>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = exchange_records, check_for_backend(diesel::pg::Pg))]
pub struct RecordRow {
    pub id: Uuid,
    pub member_id: Uuid,
    pub program_id: Uuid,
    pub home_university: String,
    pub host_university: String,
    pub field_of_study: String,
    pub degree_level: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub scholarship: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
    pub verified_by: Option<Uuid>,
}

impl ExchangeRecord {
    pub fn new(row: RecordRow, program_name: String) -> Self {
        Self {
            id: row.id,
            member_id: row.member_id,
            program_id: row.program_id,
            program_name,
            home_university: row.home_university,
            host_university: row.host_university,
            field_of_study: row.field_of_study,
            degree_level: row.degree_level,
            start_date: row.start_date,
            end_date: row.end_date,
            scholarship: row.scholarship,
            verified_at: row.verified_at,
            verified_by: row.verified_by,
        }
    }

    /// "2019–2020", "2019", or "2019–" for a record still going on.
    pub fn years(&self) -> String {
        use chrono::Datelike;
        let start = self.start_date.year();
        match self.end_date.map(|d| d.year()) {
            Some(end) if end == start => start.to_string(),
            Some(end) => format!("{start}–{end}"),
            None => format!("{start}–"),
        }
    }
}

/// A record as a member sends it (dates as `YYYY-MM-DD`). To change one,
/// only the fields sent are taken (`null` clears the optional ones).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    /// Required to add one: a programme of the catalogue.
    #[schema(format = Uuid)]
    pub program_id: Option<String>,
    /// Required to add one.
    #[schema(min_length = 1, max_length = 200)]
    pub home_university: Option<String>,
    /// Required to add one.
    #[schema(min_length = 1, max_length = 200)]
    pub host_university: Option<String>,
    /// Required to add one.
    #[schema(min_length = 1, max_length = 200)]
    pub field_of_study: Option<String>,
    /// Required to add one.
    #[schema(value_type = Option<DegreeLevel>)]
    pub degree_level: Option<String>,
    /// Required to add one; a year from 1950 to 2100.
    #[schema(format = Date)]
    pub start_date: Option<String>,
    /// Not before `start_date`; a year from 1950 to 2100. Blank or `null`: none.
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(schema_with = crate::openapi::date_or_blank)]
    pub end_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::present")]
    #[schema(max_length = 200)]
    pub scholarship: Option<Option<String>>,
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = exchange_records, treat_none_as_null = true)]
pub struct RecordValues {
    pub program_id: Uuid,
    pub home_university: String,
    pub host_university: String,
    pub field_of_study: String,
    pub degree_level: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub scholarship: Option<String>,
}

/// A date exactly as `format: date` has it (pages send it so, from a date
/// input), within the years a record may be in.
fn date(checks: &mut Checks, field: &str, value: &str) -> Option<NaiveDate> {
    match crate::api::iso_date(value) {
        Some(date) if (1950..=2100).contains(&chrono::Datelike::year(&date)) => Some(date),
        Some(_) => {
            checks.fail(field, "must be a date between 1950 and 2100");
            None
        }
        None => {
            checks.fail(field, "must be a date like 2019-09-01");
            None
        }
    }
}

impl RecordInput {
    /// The fields sent, over those of the record as it is.
    pub fn over(self, r: &ExchangeRecord) -> Self {
        Self {
            program_id: self.program_id.or_else(|| Some(r.program_id.to_string())),
            home_university: self.home_university.or_else(|| Some(r.home_university.clone())),
            host_university: self.host_university.or_else(|| Some(r.host_university.clone())),
            field_of_study: self.field_of_study.or_else(|| Some(r.field_of_study.clone())),
            degree_level: self.degree_level.or_else(|| Some(r.degree_level.clone())),
            start_date: self.start_date.or_else(|| Some(r.start_date.to_string())),
            end_date: self.end_date.or_else(|| Some(r.end_date.map(|d| d.to_string()))),
            scholarship: self.scholarship.or_else(|| Some(r.scholarship.clone())),
        }
    }

    /// Checked field by field; whether the programme exists is the store's
    /// to say.
    pub fn checked(self) -> Result<RecordValues, crate::error::AppError> {
        let mut checks = Checks::default();
        let program_id = match self.program_id.as_deref().filter(|id| !id.trim().is_empty()) {
            None => {
                checks.fail("program_id", "is required");
                None
            }
            // Hyphenated, as `format: uuid` has it (`Uuid::parse_str` also
            // takes the simple, braced and URN forms).
            Some(id) => match Uuid::parse_str(id).ok().filter(|_| id.len() == 36) {
                Some(id) => Some(id),
                None => {
                    checks.fail("program_id", "is not a programme of the catalogue");
                    None
                }
            },
        };
        let mut required =
            |field: &str, value: Option<String>| checks.text(field, value.as_deref().unwrap_or(""), 1, 200);
        let home_university = required("home_university", self.home_university);
        let host_university = required("host_university", self.host_university);
        let field_of_study = required("field_of_study", self.field_of_study);
        let degree_level = self.degree_level.unwrap_or_default();
        if !DEGREE_LEVELS.contains(&degree_level.as_str()) {
            checks.fail("degree_level", format!("must be one of {}", DEGREE_LEVELS.join(", ")));
        }
        let start_date = match self.start_date.as_deref().filter(|d| !d.trim().is_empty()) {
            None => {
                checks.fail("start_date", "is required");
                None
            }
            Some(value) => date(&mut checks, "start_date", value),
        };
        let end_date = match self.end_date.flatten().as_deref().filter(|d| !d.trim().is_empty()) {
            None => None,
            Some(value) => date(&mut checks, "end_date", value),
        };
        if let (Some(start), Some(end)) = (start_date, end_date) {
            if end < start {
                checks.fail("end_date", "must not be before the start date");
            }
        }
        let scholarship = checks.optional_text("scholarship", self.scholarship.flatten().as_deref(), 200);
        checks.finish()?;
        match (program_id, start_date) {
            (Some(program_id), Some(start_date)) => Ok(RecordValues {
                program_id,
                home_university,
                host_university,
                field_of_study,
                degree_level,
                start_date,
                end_date,
                scholarship,
            }),
            _ => Err(crate::error::AppError::internal(anyhow::anyhow!(
                "checked record without id or date"
            ))),
        }
    }
}
