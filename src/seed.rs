//! `karvan seed --members N`: realistic demo data for demos and benchmarks:
//! alumni of both countries (Azerbaijani names with their own letters),
//! their universities, a catalogue of exchange programmes, members' records
//! and a spread of privacy choices. Rows go in by the thousand, so 100,000
//! members take seconds. Every seeded member has the same password, which
//! the command prints.

use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::db::schema::{exchange_programs, exchange_records, members};
use crate::error::AppError;

pub const DEMO_PASSWORD: &str = "karvan demo password";

const PK_FIRST: &[&str] = &[
    "Ayesha", "Fatima", "Hina", "Sana", "Zainab", "Maryam", "Amna", "Mahnoor", "Iqra", "Sadia", "Ali", "Ahmed",
    "Bilal", "Hamza", "Usman", "Imran", "Faisal", "Zeeshan", "Omar", "Hassan", "Saad", "Danish", "Farhan", "Kamran",
];
const PK_LAST: &[&str] = &[
    "Khan", "Malik", "Qureshi", "Siddiqui", "Chaudhry", "Baloch", "Butt", "Sheikh", "Abbasi", "Hashmi", "Rana",
    "Mirza", "Javed", "Iqbal", "Raza", "Shah", "Awan", "Bhatti", "Niazi", "Zaidi",
];
const AZ_FIRST: &[&str] = &[
    "Aysel",
    "Leyla",
    "Günay",
    "Nərmin",
    "Aynur",
    "Səbinə",
    "Fidan",
    "Ülviyyə",
    "Könül",
    "Şəbnəm",
    "Elvin",
    "Orxan",
    "Rəşad",
    "Tural",
    "Kamran",
    "Elçin",
    "Vüsal",
    "Ramil",
    "Nicat",
    "Səməd",
    "Fərid",
    "Cavid",
    "Emin",
    "İlkin",
];
const AZ_LAST: &[&str] = &[
    "Məmmədova",
    "Əliyeva",
    "Hüseynova",
    "Quliyeva",
    "Həsənova",
    "İsmayılova",
    "Abdullayeva",
    "Nəsirova",
    "Məmmədov",
    "Əliyev",
    "Hüseynov",
    "Quliyev",
    "Həsənov",
    "İsmayılov",
    "Abdullayev",
    "Rzayev",
    "Babayev",
    "Cəfərov",
    "Kərimov",
    "Orucov",
];
const PK_UNIVERSITIES: &[(&str, &str)] = &[
    ("Lahore University of Management Sciences", "Lahore"),
    ("Quaid-i-Azam University", "Islamabad"),
    ("University of the Punjab", "Lahore"),
    ("National University of Sciences and Technology", "Islamabad"),
    ("University of Karachi", "Karachi"),
    ("Aga Khan University", "Karachi"),
    ("COMSATS University Islamabad", "Islamabad"),
    ("University of Peshawar", "Peshawar"),
];
const AZ_UNIVERSITIES: &[(&str, &str)] = &[
    ("Baku State University", "Baku"),
    ("ADA University", "Baku"),
    ("Azerbaijan State Oil and Industry University", "Baku"),
    ("Khazar University", "Baku"),
    ("Azerbaijan State University of Economics", "Baku"),
    ("Baku Higher Oil School", "Baku"),
    ("Ganja State University", "Ganja"),
    ("Nakhchivan State University", "Nakhchivan"),
];
const PROGRAMS: &[(&str, &str)] = &[
    ("Karvan Semester Exchange", "Higher Education Commission"),
    (
        "Nizami Ganjavi Fellowship",
        "Ministry of Science and Education of Azerbaijan",
    ),
    ("Allama Iqbal Visiting Scholars", "Higher Education Commission"),
    (
        "Silk Road Engineering Exchange",
        "Erasmus+ International Credit Mobility",
    ),
    ("Caspian Energy Summer School", "Baku Higher Oil School"),
    ("Indus–Kura Medical Exchange", "Aga Khan University"),
    ("Shared Heritage Language Programme", "ADA University"),
    ("Young Diplomats Exchange", "Ministries of Foreign Affairs"),
];
const PROFESSIONS: &[&str] = &[
    "Software engineer",
    "Petroleum engineer",
    "Physician",
    "Economist",
    "Lecturer",
    "Diplomat",
    "Architect",
    "Journalist",
    "Civil engineer",
    "Data scientist",
    "Lawyer",
    "Entrepreneur",
];
const FIELDS: &[&str] = &[
    "Computer science",
    "Petroleum engineering",
    "Medicine",
    "Economics",
    "International relations",
    "Linguistics",
    "Civil engineering",
    "Business administration",
];
const DEGREES: &[&str] = &["bachelor", "master", "doctorate", "non_degree"];
const VISIBILITY: &[Option<&str>] = &[None, None, None, Some("public"), Some("members"), Some("hidden")];

pub struct Seeded {
    pub members: usize,
    pub records: usize,
    pub programs: usize,
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Adds `count` active members (and the catalogue, if it is empty). The
/// same `seed_value` gives the same people. `progress` is told the members
/// written so far.
pub fn seed(
    conn: &mut PgConnection,
    count: usize,
    password_hash: &str,
    seed_value: u64,
    allow_real: bool,
    progress: &mut dyn FnMut(usize),
) -> Result<Seeded, AppError> {
    // Demo members share a password anyone can read in the README: never
    // next to real ones.
    let real: i64 = members::table
        .filter(members::email.not_like("%@demo.karvan.invalid"))
        .count()
        .get_result(conn)?;
    if real > 0 && !allow_real {
        return Err(AppError::conflict(format!(
            "this database has {real} real member(s); seed only a database for demos (or pass --force)"
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed_value);
    let mut programs: Vec<Uuid> = exchange_programs::table.select(exchange_programs::id).load(conn)?;
    let mut new_programs = 0;
    if programs.is_empty() {
        for (index, (name, sponsor)) in PROGRAMS.iter().enumerate() {
            let (home, host) = if index % 2 == 0 {
                ("Pakistan", "Azerbaijan")
            } else {
                ("Azerbaijan", "Pakistan")
            };
            let id: Uuid = diesel::insert_into(exchange_programs::table)
                .values((
                    exchange_programs::name.eq(name),
                    exchange_programs::sponsor.eq(sponsor),
                    exchange_programs::home_country.eq(home),
                    exchange_programs::host_country.eq(host),
                ))
                .returning(exchange_programs::id)
                .get_result(conn)?;
            programs.push(id);
            new_programs += 1;
        }
    }
    let run = Uuid::new_v4().simple().to_string();
    let mut records = 0;
    let mut written = 0;
    const BATCH: usize = 2000;
    while written < count {
        let size = BATCH.min(count - written);
        let mut people = Vec::with_capacity(size);
        let mut exchanges = Vec::new();
        for n in 0..size {
            let pakistani = rng.random_bool(0.5);
            let (first, last, universities, country, other) = if pakistani {
                (
                    pick(&mut rng, PK_FIRST),
                    pick(&mut rng, PK_LAST),
                    PK_UNIVERSITIES,
                    "Pakistan",
                    AZ_UNIVERSITIES,
                )
            } else {
                (
                    pick(&mut rng, AZ_FIRST),
                    pick(&mut rng, AZ_LAST),
                    AZ_UNIVERSITIES,
                    "Azerbaijan",
                    PK_UNIVERSITIES,
                )
            };
            let (university, city) = *pick(&mut rng, universities);
            let id = Uuid::new_v4();
            let year: i32 = rng.random_range(1995..=2026);
            let visibility = |rng: &mut StdRng| pick(rng, VISIBILITY).map(str::to_string);
            people.push((
                members::id.eq(id),
                members::email.eq(format!(
                    "{}.{}.{}{}@demo.karvan.invalid",
                    ascii(first),
                    ascii(last),
                    run,
                    written + n
                )),
                members::password_hash.eq(password_hash.to_string()),
                members::full_name.eq(format!("{first} {last}")),
                members::status.eq("active"),
                members::graduation_year.eq(Some(year)),
                members::university.eq(Some(university.to_string())),
                members::country.eq(Some(country.to_string())),
                (
                    members::city.eq(Some(city.to_string())),
                    members::profession.eq(Some(pick(&mut rng, PROFESSIONS).to_string())),
                    members::listed_in_directory.eq(rng.random_bool(0.92)),
                    members::email_visibility.eq(visibility(&mut rng)),
                    members::city_visibility.eq(visibility(&mut rng)),
                    members::exchanges_visibility.eq(visibility(&mut rng)),
                    members::approved_at.eq(Some(chrono::Utc::now())),
                    members::email_verified_at.eq(Some(chrono::Utc::now())),
                ),
            ));
            let taken = match rng.random_range(0..100) {
                0..=24 => 0,
                25..=89 => 1,
                _ => 2,
            };
            for _ in 0..taken {
                let start = NaiveDate::from_ymd_opt(year - rng.random_range(1..5), [2, 9][rng.random_range(0..2)], 1)
                    .unwrap_or_default();
                let end = start + Duration::days(rng.random_range(120..400));
                exchanges.push((
                    exchange_records::member_id.eq(id),
                    exchange_records::program_id.eq(*pick(&mut rng, &programs)),
                    exchange_records::home_university.eq(university.to_string()),
                    exchange_records::host_university.eq(pick(&mut rng, other).0.to_string()),
                    exchange_records::field_of_study.eq(pick(&mut rng, FIELDS).to_string()),
                    exchange_records::degree_level.eq(pick(&mut rng, DEGREES).to_string()),
                    exchange_records::start_date.eq(start),
                    exchange_records::end_date.eq(Some(end)),
                ));
            }
        }
        conn.transaction(|conn| {
            diesel::insert_into(members::table).values(&people).execute(conn)?;
            diesel::insert_into(exchange_records::table)
                .values(&exchanges)
                .execute(conn)?;
            diesel::QueryResult::Ok(())
        })?;
        records += exchanges.len();
        written += size;
        progress(written);
    }
    // Fresh statistics and visibility maps, as autovacuum would leave them
    // after a bulk load, so the first searches are planned well.
    diesel::sql_query("VACUUM (ANALYZE) members").execute(conn)?;
    diesel::sql_query("VACUUM (ANALYZE) exchange_records").execute(conn)?;
    crate::directory::store::fold_count_changes(conn)?;
    diesel::sql_query("VACUUM (ANALYZE) directory_words").execute(conn)?;
    diesel::sql_query("VACUUM (ANALYZE) name_words").execute(conn)?;
    Ok(Seeded {
        members: written,
        records,
        programs: new_programs,
    })
}

/// A name's letters as an address can hold them.
fn ascii(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'ə' | 'Ə' => 'a',
            'ü' | 'Ü' => 'u',
            'ö' | 'Ö' => 'o',
            'ş' | 'Ş' => 's',
            'ç' | 'Ç' => 'c',
            'ğ' | 'Ğ' => 'g',
            'ı' | 'İ' => 'i',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}
