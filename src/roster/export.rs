//! The register as CSV: UTF-8 with a byte-order mark (so spreadsheet
//! programs show Urdu and Azerbaijani letters), the import's columns first,
//! so an export imports again as it is.

use diesel::prelude::*;

use crate::api::defused;
use crate::db::schema::members;
use crate::members::model::{Member, DELETED};

/// Every member who is not deleted, oldest first, as CSV bytes.
pub fn csv(conn: &mut PgConnection) -> Result<Vec<u8>, crate::error::AppError> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    let mut writer = csv::Writer::from_writer(&mut out);
    writer
        .write_record([
            "email",
            "full_name",
            "graduation_year",
            "university",
            "country",
            "city",
            "profession",
            "status",
            "role",
            "joined_at",
        ])
        .map_err(crate::error::AppError::internal)?;
    // In pages of 5,000, so a large register never sits in memory twice.
    let mut after: Option<(chrono::DateTime<chrono::Utc>, uuid::Uuid)> = None;
    loop {
        let mut query = members::table
            .filter(members::status.ne(DELETED))
            .select(Member::as_select())
            .order((members::created_at.asc(), members::id.asc()))
            .limit(5000)
            .into_boxed();
        if let Some((at, id)) = after {
            query = query.filter(
                members::created_at
                    .gt(at)
                    .or(members::created_at.eq(at).and(members::id.gt(id))),
            );
        }
        let page: Vec<Member> = query.load(conn)?;
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id));
        for m in &page {
            writer
                .write_record([
                    defused(&m.email),
                    defused(&m.full_name),
                    m.graduation_year.map(|y| y.to_string()).unwrap_or_default(),
                    defused(m.university.as_deref().unwrap_or("")),
                    defused(m.country.as_deref().unwrap_or("")),
                    defused(m.city.as_deref().unwrap_or("")),
                    defused(m.profession.as_deref().unwrap_or("")),
                    m.status.clone(),
                    m.role.clone(),
                    m.created_at.to_rfc3339(),
                ])
                .map_err(crate::error::AppError::internal)?;
        }
    }
    writer.flush().map_err(crate::error::AppError::internal)?;
    drop(writer);
    Ok(out)
}
