DROP TABLE rsvps;
DROP SEQUENCE rsvp_positions;
DROP TABLE events;
DROP TRIGGER members_settings ON members;
DROP FUNCTION karvan_member_settings();
DROP TABLE member_settings;
