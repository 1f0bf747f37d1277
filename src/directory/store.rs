//! The directory's queries. Every protected field is selected through a
//! `CASE` on its effective visibility, and filters on protected data (the
//! exchange records) only look at members whose records the viewer may
//! see, so neither a value nor a count reveals what a member hid.

use chrono::NaiveDate;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text, Uuid as SqlUuid};
use serde::Serialize;
use uuid::Uuid;

use crate::db::prepared::PreparedSql;
use crate::members::privacy::Audience;
use crate::programs::store::records_of;

/// What the directory may be asked.
#[derive(Debug, Default, Clone)]
pub struct Search {
    /// Words of a name; each must match (exactly in part, or nearly).
    pub words: Vec<String>,
    pub country: Option<String>,
    pub graduation_year: Option<i32>,
    pub university: Option<String>,
    pub program_id: Option<Uuid>,
    pub host_university: Option<String>,
    /// With `program_id`: the year the exchange began (a cohort).
    pub cohort_year: Option<i32>,
}

impl Search {
    /// A name and no filter.
    pub fn only_words(&self) -> bool {
        !self.words.is_empty()
            && Search {
                words: Vec::new(),
                ..self.clone()
            }
            .is_empty()
    }

    /// A university and nothing else.
    pub fn only_university(&self) -> bool {
        self.university.is_some()
            && Search {
                university: None,
                ..self.clone()
            }
            .is_empty()
    }

    /// A country, perhaps with a graduation year, and nothing else.
    pub fn only_country_and_year(&self) -> bool {
        self.country.is_some()
            && Search {
                country: None,
                graduation_year: None,
                ..self.clone()
            }
            .is_empty()
    }

    /// No name and no filter: everyone listed.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
            && self.country.is_none()
            && self.graduation_year.is_none()
            && self.university.is_none()
            && self.program_id.is_none()
            && self.host_university.is_none()
            && self.cohort_year.is_none()
    }
}

/// Who asks: their id (they always see their own entry whole) and audience.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub id: Option<Uuid>,
    pub audience: Audience,
}

/// A member as the directory shows them to one viewer: protected fields
/// the viewer may not see are absent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Entry {
    pub id: Uuid,
    pub full_name: String,
    pub graduation_year: Option<i32>,
    pub university: Option<String>,
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profession: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchanges: Option<Vec<ExchangeEntry>>,
}

/// An exchange record as others see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExchangeEntry {
    pub program_id: Uuid,
    pub program_name: String,
    pub home_university: String,
    pub host_university: String,
    pub field_of_study: String,
    pub degree_level: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub scholarship: Option<String>,
    pub verified: bool,
    /// "2019–2020", for pages.
    pub years: String,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    full_name: String,
    #[diesel(sql_type = Nullable<Integer>)]
    graduation_year: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    university: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    country: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    city: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    profession: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    bio: Option<String>,
    #[diesel(sql_type = Nullable<Array<Nullable<Text>>>)]
    links: Option<Vec<Option<String>>>,
    #[diesel(sql_type = Bool)]
    exchanges_visible: bool,
}

/// A row of a search's page, with the count of all its matches.
#[derive(QueryableByName)]
struct PageRow {
    #[diesel(embed)]
    member: Row,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// A SQL text with numbered parameters, bound as they are written. The
/// text names no value, so each shape of search is one statement that every
/// connection prepares once.
struct Sql<'f> {
    query: PreparedSql<'f>,
}

impl<'f> Sql<'f> {
    fn new(text: &str) -> Self {
        Self {
            query: PreparedSql::new(text),
        }
    }

    fn push(mut self, text: &str) -> Self {
        self.query = self.query.sql(text);
        self
    }

    /// Writes `$n` and binds `value` to it.
    fn param<T, V>(mut self, value: V) -> Self
    where
        Pg: diesel::sql_types::HasSqlType<T>,
        V: diesel::serialize::ToSql<T, Pg> + Send + 'f,
        T: Send + 'f,
    {
        self.query = self.query.bind::<T, V>(value);
        self
    }
}

/// Whether the viewer may see the member's `field` (column prefix). The
/// association's default is a scalar subquery, evaluated once per query,
/// not a join, so the planner's estimates stay those of the members table.
fn visible<'f>(sql: Sql<'f>, field: &str, viewer: Viewer) -> Sql<'f> {
    let sql = sql.push(&format!(
        "(coalesce(m.{field}_visibility, (SELECT {field}_visibility FROM directory_defaults)) = ANY("
    ));
    let sql = sql.param::<Array<Text>, _>(viewer.audience.sees()).push(") OR m.id = ");
    sql.param::<SqlUuid, _>(viewer.id.unwrap_or_else(Uuid::nil)).push(")")
}

const LISTED: &str = "FROM members m WHERE m.status = 'active' AND m.listed_in_directory";

/// The search's conditions, after `LISTED`.
fn conditions<'f>(mut sql: Sql<'f>, search: &Search, viewer: &Viewer) -> Sql<'f> {
    for word in &search.words {
        // A word of the name contains what was typed, or nearly spells it.
        // The words are found in the small table of all name words, then
        // the members through the GIN index on their names' words.
        sql = words_like(sql.push(" AND m.name_words && ARRAY("), word).push(")");
    }
    if let Some(country) = &search.country {
        sql = sql
            .push(" AND karvan_fold(m.country) = karvan_fold(")
            .param::<Text, _>(country.clone())
            .push(")");
    }
    if let Some(year) = search.graduation_year {
        sql = sql.push(" AND m.graduation_year = ").param::<Integer, _>(year);
    }
    if let Some(university) = &search.university {
        // The universities whose name contains it, then their members.
        sql = universities_like(sql.push(" AND karvan_fold(m.university) = ANY(ARRAY("), university).push("))");
    }
    if search.program_id.is_some() || search.host_university.is_some() || search.cohort_year.is_some() {
        // Only the records the viewer may see can match.
        sql = sql.push(" AND ");
        sql = visible(sql, "exchanges", *viewer);
        // The records are the driving side: a programme's records are found
        // through their index, then their members.
        sql = sql.push(" AND m.id IN (SELECT r.member_id FROM exchange_records r WHERE true");
        if let Some(program) = search.program_id {
            sql = sql.push(" AND r.program_id = ").param::<SqlUuid, _>(program);
        }
        if let Some(host) = &search.host_university {
            sql = containing(sql.push(" AND karvan_fold(r.host_university) LIKE "), host);
        }
        if let Some(year) = search.cohort_year {
            sql = sql
                .push(" AND extract(year FROM r.start_date)::int = ")
                .param::<Integer, _>(year);
        }
        sql = sql.push(")");
    }
    sql
}

/// The words of names that contain what was typed, or nearly spell it.
fn words_like<'f>(sql: Sql<'f>, typed: &str) -> Sql<'f> {
    let sql = containing(sql.push("SELECT word FROM name_words WHERE word LIKE "), typed);
    folded(sql.push(" OR word % "), typed)
}

/// The universities (folded names) whose name contains what was typed.
fn universities_like<'f>(sql: Sql<'f>, typed: &str) -> Sql<'f> {
    containing(sql.push("SELECT name FROM university_names WHERE name LIKE "), typed)
}

/// A LIKE pattern of the names that contain what was typed, folded. It and
/// `folded` are subqueries, so what was typed is folded once per search: in
/// a filter the parameter was folded again for every row compared (a
/// generic plan cannot fold it ahead), 0.07 ms of a one-word search's
/// 0.18 ms reading the 87 words of a seeded directory.
fn containing<'f>(sql: Sql<'f>, typed: &str) -> Sql<'f> {
    sql.push("(SELECT '%' || karvan_fold(")
        .param::<Text, _>(like_escaped(typed))
        .push(") || '%')")
}

/// What was typed, folded once (see `containing`).
fn folded<'f>(sql: Sql<'f>, typed: &str) -> Sql<'f> {
    sql.push("(SELECT karvan_fold(")
        .param::<Text, _>(typed.to_string())
        .push("))")
}

/// `%`, `_` and `\` in what a person typed match themselves.
fn like_escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

fn selected<'f>(viewer: &Viewer) -> Sql<'f> {
    columns(Sql::new(""), viewer)
}

fn columns<'f>(sql: Sql<'f>, viewer: &Viewer) -> Sql<'f> {
    let mut sql = sql.push("SELECT m.id, m.full_name, m.graduation_year, m.university, m.country");
    for (field, column) in [
        ("email", "m.email::text"),
        ("city", "m.city"),
        ("profession", "m.profession"),
        ("bio", "m.bio"),
        ("links", "m.links"),
    ] {
        sql = sql.push(", CASE WHEN ");
        sql = visible(sql, field, *viewer);
        sql = sql.push(&format!(" THEN {column} END AS {field}"));
    }
    sql = sql.push(", ");
    sql = visible(sql, "exchanges", *viewer);
    sql.push(" AS exchanges_visible ")
}

/// One page of the directory, and how many entries match in all.
pub fn search(
    conn: &mut PgConnection,
    search: &Search,
    viewer: Viewer,
    page: i64,
    per_page: i64,
) -> QueryResult<(Vec<Entry>, i64)> {
    // "Nearly spelled" is pg_trgm's `%`, at the threshold every pooled
    // connection is given (`db::build_pool`).
    let offset = (page - 1) * per_page;
    if search.is_empty() {
        // Everyone listed, in name order: the index gives the page.
        let sql = selected(&viewer)
            .push(LISTED)
            .push(" ORDER BY m.name_search, m.id LIMIT ")
            .param::<BigInt, _>(per_page)
            .push(" OFFSET ")
            .param::<BigInt, _>(offset);
        let rows: Vec<Row> = sql.query.load(conn)?;
        let total = count(conn, search, &viewer)?;
        return Ok((entries(conn, rows)?, total));
    }
    let (sql, total) = if let ([typed], true) = (search.words.as_slice(), search.only_words()) {
        // The common case, one typed word: the words of names it matches
        // (a small table), then, as the directory's narrow word index holds
        // each word's members in name order, the page read off the front of
        // each (Hüseynov finds both huseynov and huseynova). One query.
        let sql = words_like(Sql::new("WITH words AS MATERIALIZED (SELECT ARRAY("), typed)
            .push(") AS keys), page AS (SELECT DISTINCT l.id, l.name_search FROM words, unnest(words.keys");
        let sql = page_of_lists(
            sql,
            "SELECT member_id AS id, name_search FROM directory_words WHERE word = k.key",
            per_page,
            offset,
        );
        (sql, Total::Words)
    } else if let Some(university) = search.university.as_ref().filter(|_| search.only_university()) {
        // A university alone: its members are in name order in the filter's
        // index, one list for each university whose name matches, and each
        // university keeps its count.
        let sql = universities_like(Sql::new("WITH names AS MATERIALIZED (SELECT ARRAY("), university)
            .push(") AS keys), page AS (SELECT DISTINCT l.id, l.name_search FROM names, unnest(names.keys");
        let sql = page_of_lists(
            sql,
            "SELECT m.id, m.name_search FROM members m WHERE karvan_fold(m.university) = k.key \
             AND m.status = 'active' AND m.listed_in_directory",
            per_page,
            offset,
        );
        (sql, Total::Universities)
    } else if search.only_country_and_year() {
        // A country, or a country's graduates of one year: a filter's index
        // holds them in name order (`members_directory_country_idx`, and
        // `_year_idx` with the year first), so the page is read off its
        // front, and counted apart through the same index. For Pakistan's
        // 1,497 of 2012, 0.3 ms where gathering and sorting them took 0.85.
        let sql = conditions(
            Sql::new("WITH page AS (SELECT m.id, m.name_search ").push(LISTED),
            search,
            &viewer,
        )
        .push(" ORDER BY m.name_search, m.id LIMIT ")
        .param::<BigInt, _>(per_page)
        .push(" OFFSET ")
        .param::<BigInt, _>(offset)
        .push(") ");
        (sql, Total::Conditions)
    } else {
        // Several words, or filters. The matches are found once, then
        // counted and paged: the planner is never tempted to walk the whole
        // name index looking for a rare name. Names of several words are
        // found through the GIN index of the names' words, which intersects
        // the words' members before reading any (a first and a last name:
        // the few who have both, not the thousands who have either).
        let sql = conditions(
            Sql::new("WITH matched AS MATERIALIZED (SELECT m.id, m.name_search ").push(LISTED),
            search,
            &viewer,
        );
        (page_of_matched(sql, per_page, offset), Total::Matched)
    };
    // Only the page's rows are fetched whole (and checked again as listed).
    let sql = columns(sql, &viewer).push(", ");
    let sql = match total {
        Total::Matched => sql.push("(SELECT count(*) FROM matched)"),
        Total::Words => sql.push(WORDS_LISTED),
        Total::Universities => sql.push(UNIVERSITIES_LISTED),
        Total::Conditions => conditions(sql.push("(SELECT count(*) ").push(LISTED), search, &viewer).push(")"),
    };
    let sql = sql.push(
        " AS total FROM page JOIN members m ON m.id = page.id \
         WHERE m.status = 'active' AND m.listed_in_directory ORDER BY page.name_search, page.id",
    );
    let rows: Vec<PageRow> = if matches!(total, Total::Words) {
        // Its plan is the same whatever the word and page: a generic plan,
        // made once per connection, ran a search in 0.5-0.9 ms where the
        // plan made for each word's values took 1.3-6 ms with its planning.
        // The plan cache keeps choosing those (it estimates the generic
        // plan dearer, not knowing the limits), so it is told, for this
        // statement only (`SET LOCAL` ends with the transaction).
        conn.transaction(|conn| {
            diesel::sql_query("SET LOCAL plan_cache_mode = force_generic_plan").execute(conn)?;
            sql.query.load(conn)
        })?
    } else {
        sql.query.load(conn)?
    };
    let total = match rows.first() {
        Some(first) => first.total,
        // An empty first page: nothing matches.
        None if offset == 0 => 0,
        // A page past the end still tells how many there are.
        None => count(conn, search, &viewer)?,
    };
    let rows = rows.into_iter().map(|r| r.member).collect();
    Ok((entries(conn, rows)?, total))
}

/// How many listed members have any of `words.keys` in their name, from
/// each word's count (see `fold_count_changes` and the function's migration).
const WORDS_LISTED: &str = "(SELECT karvan_listed_with_any(keys) FROM words)";

/// How many listed members are at any of `names.keys`, from each
/// university's count (see `fold_count_changes` and migration 15).
const UNIVERSITIES_LISTED: &str = "(SELECT karvan_listed_at(keys) FROM names)";

/// The directory's kept counts: each change log, the column naming what it
/// counts, and the table of the counts.
const COUNTS: [(&str, &str, &str); 2] = [
    ("directory_word_changes", "word", "name_words"),
    ("directory_university_changes", "name", "university_names"),
];

/// Adds the directory's pending changes (of name words and universities)
/// to their counts and removes them, so a search adds few. Run by the
/// ticker every minute and after a seed, on a connection outside any
/// transaction (it vacuums). Folds running at once (replicas) are safe:
/// each removes only the changes it adds, and they lock the counts in the
/// same order. Returns how many changes it folded.
pub fn fold_count_changes(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Folded {
        #[diesel(sql_type = BigInt)]
        folded: i64,
    }
    let mut all = 0;
    for (log, key, counts) in COUNTS {
        // The INSERT runs whether or not its rows are read (a data-modifying
        // common table always does).
        let folded = diesel::sql_query(format!(
            "WITH folded AS (DELETE FROM {log} RETURNING {key}, change), \
             counted AS (INSERT INTO {counts} ({key}, listed) \
             SELECT {key}, sum(change) FROM folded GROUP BY {key} HAVING sum(change) <> 0 ORDER BY {key} \
             ON CONFLICT ({key}) DO UPDATE SET listed = {counts}.listed + excluded.listed) \
             SELECT count(*) AS folded FROM folded"
        ))
        .get_result::<Folded>(conn)?
        .folded;
        // The log's index still points at the folded rows until a vacuum
        // removes them, and a search's bitmap scan of a word's changes reads
        // every one (after a seed of 100,000, Khan's 2,231: 0.75 ms of each
        // search for that name). Autovacuum may come a minute or more later.
        // A vacuum while another fold is under way may not remove them: the
        // next fold's does, when it finds pages left.
        if folded > 0 || pages(conn, log)? > 0 {
            diesel::sql_query(format!("VACUUM {log}")).execute(conn)?;
        }
        all += folded;
    }
    Ok(all)
}

/// How many pages `table` takes.
fn pages(conn: &mut PgConnection, table: &str) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Pages {
        #[diesel(sql_type = BigInt)]
        pages: i64,
    }
    let sql = format!("SELECT pg_relation_size('{table}') / current_setting('block_size')::bigint AS pages");
    Ok(diesel::sql_query(sql).get_result::<Pages>(conn)?.pages)
}

/// [`recount`], with a warning in the log when it found counts to repair
/// or could not run; whether it ran.
pub fn recount_and_report(conn: &mut PgConnection) -> bool {
    match recount(conn) {
        Ok(0) => true,
        Ok(wrong) => {
            tracing::warn!(wrong, "repaired the directory's counts, changed without their triggers");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not recount the directory's counts; tried again later");
            false
        }
    }
}

/// Sets every count to what the directory's own tables hold (each name
/// word's to its entries in `directory_words`, each university's to its
/// listed members) and clears the change logs, returning how many counts
/// were wrong. The counts are kept by triggers, so only what bypasses them
/// makes them drift: a restore with triggers disabled, a `TRUNCATE` of a
/// log, a hand edit of a count. Run before serving (`Application::build`)
/// and daily after by the ticker.
///
/// Writes to members are held back for the recount (a fraction of a second
/// for 100,000 members), so no change can commit between the counting and
/// the clearing; members are locked first, as every writer of the logs
/// locks them first. An open import would make it wait, and every member
/// write queue behind it: it gives up after `RECOUNT_WAIT` instead, to be
/// tried again.
pub fn recount(conn: &mut PgConnection) -> QueryResult<usize> {
    /// How long the recount waits for the members' writers to finish.
    const RECOUNT_WAIT: &str = "500ms";
    let wrong = conn.transaction(|conn| {
        diesel::sql_query(format!("SET LOCAL lock_timeout = '{RECOUNT_WAIT}'")).execute(conn)?;
        diesel::sql_query("LOCK TABLE members IN SHARE MODE").execute(conn)?;
        // Against folds, which write the logs and counts without members.
        diesel::sql_query("LOCK TABLE directory_word_changes, directory_university_changes IN EXCLUSIVE MODE")
            .execute(conn)?;
        let words = diesel::sql_query(
            "WITH counted AS (SELECT n.word, count(d.word) AS listed FROM name_words n \
             LEFT JOIN directory_words d ON d.word = n.word GROUP BY n.word) \
             UPDATE name_words n SET listed = counted.listed FROM counted \
             WHERE n.word = counted.word AND n.listed <> counted.listed",
        )
        .execute(conn)?;
        let universities = diesel::sql_query(
            "WITH counted AS (SELECT u.name, count(m.id) AS listed FROM university_names u \
             LEFT JOIN members m ON karvan_fold(m.university) = u.name \
             AND m.status = 'active' AND m.listed_in_directory GROUP BY u.name) \
             UPDATE university_names u SET listed = counted.listed FROM counted \
             WHERE u.name = counted.name AND u.listed <> counted.listed",
        )
        .execute(conn)?;
        for (log, _, _) in COUNTS {
            diesel::sql_query(format!("DELETE FROM {log}")).execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(words + universities)
    })?;
    for (log, _, _) in COUNTS {
        diesel::sql_query(format!("VACUUM {log}")).execute(conn)?;
    }
    Ok(wrong)
}

/// How a search's matches are counted, written after the page's columns.
enum Total {
    /// The `matched` common table, found once for both.
    Matched,
    /// The listed members with any of `words.keys` (common table) in their name.
    Words,
    /// The listed members at any of `names.keys` (common table), universities.
    Universities,
    /// The search's conditions, counted through the filters' indexes.
    Conditions,
}

/// Ends `WITH matched AS (...`: the page is chosen among the matches before
/// any other column is read.
fn page_of_matched<'f>(sql: Sql<'f>, per_page: i64, offset: i64) -> Sql<'f> {
    sql.push(") , page AS (SELECT id, name_search FROM matched ORDER BY name_search, id LIMIT ")
        .param::<BigInt, _>(per_page)
        .push(" OFFSET ")
        .param::<BigInt, _>(offset)
        .push(") ")
}

/// Ends `WITH page AS (... FROM unnest(keys`: the page among several lists
/// that an index holds each in name order, `list` reading the one of
/// `k.key`. The page's rows are among the first `offset + per_page` of some
/// list (those before a row in its list all come before it on the page too),
/// so no list is read further, however many match in all.
fn page_of_lists<'f>(sql: Sql<'f>, list: &str, per_page: i64, offset: i64) -> Sql<'f> {
    sql.push(") AS k(key), LATERAL (")
        .push(list)
        .push(" ORDER BY name_search, id LIMIT ")
        .param::<BigInt, _>(offset.saturating_add(per_page))
        .push(") l ORDER BY l.name_search, l.id LIMIT ")
        .param::<BigInt, _>(per_page)
        .push(" OFFSET ")
        .param::<BigInt, _>(offset)
        .push(") ")
}

fn count(conn: &mut PgConnection, search: &Search, viewer: &Viewer) -> QueryResult<i64> {
    let sql = conditions(Sql::new("SELECT count(*) AS total ").push(LISTED), search, viewer);
    Ok(sql.query.get_result::<Count>(conn)?.total)
}

/// One member's entry, if they are listed (or the viewer is that member).
pub fn entry(conn: &mut PgConnection, id: Uuid, viewer: Viewer) -> QueryResult<Option<Entry>> {
    let sql = selected(&viewer)
        .push("FROM members m WHERE m.status = 'active' AND m.id = ")
        .param::<SqlUuid, _>(id)
        .push(" AND (m.listed_in_directory OR m.id = ")
        .param::<SqlUuid, _>(viewer.id.unwrap_or_else(Uuid::nil))
        .push(")");
    let rows: Vec<Row> = sql.query.load(conn)?;
    Ok(entries(conn, rows)?.into_iter().next())
}

/// Rows with their exchange records attached where the viewer may see them.
fn entries(conn: &mut PgConnection, rows: Vec<Row>) -> QueryResult<Vec<Entry>> {
    let shown: Vec<Uuid> = rows.iter().filter(|r| r.exchanges_visible).map(|r| r.id).collect();
    let mut records = if shown.is_empty() {
        Vec::new()
    } else {
        records_of(conn, &shown)?
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let exchanges = row.exchanges_visible.then(|| {
                let mine: Vec<_> = records.iter().filter(|r| r.member_id == row.id).cloned().collect();
                records.retain(|r| r.member_id != row.id);
                mine.into_iter()
                    .map(|r| ExchangeEntry {
                        years: r.years(),
                        program_id: r.program_id,
                        program_name: r.program_name,
                        home_university: r.home_university,
                        host_university: r.host_university,
                        field_of_study: r.field_of_study,
                        degree_level: r.degree_level,
                        start_date: r.start_date,
                        end_date: r.end_date,
                        scholarship: r.scholarship,
                        verified: r.verified_at.is_some(),
                    })
                    .collect()
            });
            Entry {
                id: row.id,
                full_name: row.full_name,
                graduation_year: row.graduation_year,
                university: row.university,
                country: row.country,
                email: row.email,
                city: row.city,
                profession: row.profession,
                bio: row.bio,
                links: row.links.map(|l| l.into_iter().flatten().collect()),
                exchanges,
            }
        })
        .collect())
}
