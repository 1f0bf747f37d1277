// @generated automatically by Diesel CLI.

diesel::table! {
    announcements (id) {
        id -> Uuid,
        title -> Text,
        body_md -> Text,
        body_html -> Text,
        author_id -> Nullable<Uuid>,
        published_at -> Timestamptz,
        email_requested -> Bool,
        emailed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        actor_id -> Nullable<Uuid>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        details -> Jsonb,
        at -> Timestamptz,
    }
}

diesel::table! {
    contact_requests (id) {
        id -> Uuid,
        from_member -> Uuid,
        to_member -> Uuid,
        message -> Text,
        status -> Text,
        created_at -> Timestamptz,
        responded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    digest_runs (id) {
        id -> Int8,
        period -> Text,
        trigger -> Text,
        actor_id -> Nullable<Uuid>,
        dry_run -> Bool,
        started_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
        considered -> Int4,
        queued -> Int4,
    }
}

diesel::table! {
    directory_defaults (id) {
        id -> Bool,
        email_visibility -> Text,
        city_visibility -> Text,
        profession_visibility -> Text,
        bio_visibility -> Text,
        links_visibility -> Text,
        exchanges_visibility -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    directory_university_changes (id) {
        id -> Int8,
        name -> Text,
        change -> Int4,
    }
}

diesel::table! {
    directory_word_changes (id) {
        id -> Int8,
        word -> Text,
        change -> Int4,
    }
}

diesel::table! {
    directory_words (word, name_search, member_id) {
        word -> Text,
        name_search -> Text,
        member_id -> Uuid,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Uuid,
        idempotency_key -> Text,
        kind -> Text,
        to_address -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Nullable<Text>,
        headers -> Jsonb,
        attachments -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        claim_token -> Nullable<Uuid>,
        lease_expires_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    email_tokens (id) {
        id -> Uuid,
        member_id -> Uuid,
        purpose -> Text,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    events (id) {
        id -> Uuid,
        title -> Text,
        description_md -> Text,
        description_html -> Text,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        time_zone -> Text,
        location -> Nullable<Text>,
        online_url -> Nullable<Text>,
        capacity -> Nullable<Int4>,
        status -> Text,
        sequence -> Int4,
        cancel_reason -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    exchange_programs (id) {
        id -> Uuid,
        name -> Text,
        sponsor -> Nullable<Text>,
        home_country -> Nullable<Text>,
        host_country -> Nullable<Text>,
        description -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    exchange_records (id) {
        id -> Uuid,
        member_id -> Uuid,
        program_id -> Uuid,
        home_university -> Text,
        host_university -> Text,
        field_of_study -> Text,
        degree_level -> Text,
        start_date -> Date,
        end_date -> Nullable<Date>,
        scholarship -> Nullable<Text>,
        verified_at -> Nullable<Timestamptz>,
        verified_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    member_settings (member_id) {
        member_id -> Uuid,
        notify_events -> Bool,
        notify_announcements -> Bool,
        calendar_token -> Text,
        digest_frequency -> Text,
        digest_topics -> Array<Nullable<Text>>,
        digest_covered_until -> Nullable<Timestamptz>,
        digest_period_done -> Nullable<Text>,
    }
}

diesel::table! {
    members (id) {
        id -> Uuid,
        email -> Citext,
        password_hash -> Text,
        full_name -> Text,
        status -> Text,
        role -> Text,
        graduation_year -> Nullable<Int4>,
        university -> Nullable<Text>,
        country -> Nullable<Text>,
        time_zone -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        email_verified_at -> Nullable<Timestamptz>,
        approved_at -> Nullable<Timestamptz>,
        deleted_at -> Nullable<Timestamptz>,
        sessions_valid_after -> Nullable<Timestamptz>,
        city -> Nullable<Text>,
        profession -> Nullable<Text>,
        bio -> Nullable<Text>,
        links -> Array<Nullable<Text>>,
        listed_in_directory -> Bool,
        email_visibility -> Nullable<Text>,
        city_visibility -> Nullable<Text>,
        profession_visibility -> Nullable<Text>,
        bio_visibility -> Nullable<Text>,
        links_visibility -> Nullable<Text>,
        exchanges_visibility -> Nullable<Text>,
        name_search -> Nullable<Text>,
        name_words -> Nullable<Array<Nullable<Text>>>,
        imported_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    name_words (word) {
        word -> Text,
        listed -> Int4,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        member_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    rsvps (event_id, member_id) {
        event_id -> Uuid,
        member_id -> Uuid,
        status -> Text,
        position -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        reminded_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    university_names (name) {
        name -> Text,
        listed -> Int4,
    }
}

diesel::joinable!(announcements -> members (author_id));
diesel::joinable!(audit_log -> members (actor_id));
diesel::joinable!(digest_runs -> members (actor_id));
diesel::joinable!(directory_words -> members (member_id));
diesel::joinable!(email_tokens -> members (member_id));
diesel::joinable!(events -> members (created_by));
diesel::joinable!(exchange_records -> exchange_programs (program_id));
diesel::joinable!(member_settings -> members (member_id));
diesel::joinable!(refresh_tokens -> members (member_id));
diesel::joinable!(rsvps -> events (event_id));
diesel::joinable!(rsvps -> members (member_id));

diesel::allow_tables_to_appear_in_same_query!(
    announcements,
    audit_log,
    contact_requests,
    digest_runs,
    directory_defaults,
    directory_university_changes,
    directory_word_changes,
    directory_words,
    email_outbox,
    email_tokens,
    events,
    exchange_programs,
    exchange_records,
    member_settings,
    members,
    name_words,
    refresh_tokens,
    rsvps,
    university_names,
);
