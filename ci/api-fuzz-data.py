"""Test data for ci/api-fuzz.sh: things that exist, so that Schemathesis's
requests on `/{id}` reach the handlers rather than a 404 every time.

Signed in as the fuzz admin, it makes an event, an announcement (mailed, so
the outbox has messages) and an exchange record through the API, has a
second member ask the admin for an introduction, reads the seeded members
and programmes, and prints TOML for Schemathesis's configuration: one dictionary of
ids per kind of thing, and each `{id}` path bound to its dictionary for half
of the generated requests (the other half keep random ids, so 404s stay
tested).

    python ci/api-fuzz-data.py BASE_URL ACCESS_TOKEN FRIEND_EMAIL FRIEND_PASSWORD >> schemathesis.toml
"""

import json
import sys
import urllib.request

base, admin_token, friend_email, friend_password = sys.argv[1:5]


def call(method, path, body=None, token=admin_token):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)


me = call("GET", "/api/v1/me")
# The admin's own id is left out: acting on oneself only ever answers 409.
members = [m["id"] for m in call("GET", "/api/v1/admin/members?per_page=100")["items"] if m["id"] != me["id"]]
programs = [p["id"] for p in call("GET", "/api/v1/programs?per_page=100")["items"]]
event = call(
    "POST",
    "/api/v1/events",
    {"title": "Fuzz reunion", "starts_at": "2030-05-01T18:00", "ends_at": "2030-05-01T21:00", "time_zone": "Asia/Baku"},
)
draft = call(
    "POST",
    "/api/v1/events",
    {"title": "Fuzz draft", "starts_at": "2030-06-01T18:00", "ends_at": "2030-06-01T21:00", "time_zone": "Asia/Karachi"},
)
call("POST", f"/api/v1/events/{event['id']}/publish", {"notify": False})
announcement = call("POST", "/api/v1/announcements", {"title": "Fuzz news", "body_md": "Salam!", "email_now": True})
record = call(
    "POST",
    "/api/v1/me/exchanges",
    {"program_id": programs[0], "home_university": "LUMS", "host_university": "ADA University",
     "field_of_study": "Economics", "degree_level": "master", "start_date": "2019-09-01"},
)
outbox = [m["id"] for m in call("GET", "/api/v1/admin/outbox?per_page=20")["items"]]
# The friend asks the admin (listed in the directory for it) to be introduced.
call("PATCH", "/api/v1/me", {"listed_in_directory": True})
friend = call("POST", "/api/v1/auth/login", {"email": friend_email, "password": friend_password}, token=None)
call("POST", f"/api/v1/members/{me['id']}/contact-requests", {"message": "Salam!"}, token=friend["access_token"])
requests = [r["id"] for r in call("GET", "/api/v1/me/contact-requests")["items"]]

dictionaries = {
    "events": [event["id"], draft["id"]],
    "members": members,
    "programs": programs,
    "announcements": [announcement["id"]],
    "records": [record["id"]],
    "outbox": outbox,
    "requests": requests,
}
paths = {
    "events": r"^/api/v1/events/\{id\}",
    "members": r"^/api/v1/(admin/)?members/\{id\}",
    "programs": r"^/api/v1/programs/\{id\}",
    "announcements": r"^/api/v1/announcements/\{id\}",
    "records": r"^/api/v1/(me|admin)/exchanges/\{id\}",
    "outbox": r"^/api/v1/admin/outbox/\{id\}",
    "requests": r"^/api/v1/me/contact-requests/\{id\}",
}
counts = ", ".join(f"{len(ids)} {name}" for name, ids in dictionaries.items())
print(f"api-fuzz: requests on /{{id}} use, half of the time, the ids of {counts}", file=sys.stderr)
print("\n# Written by ci/api-fuzz-data.py.")
print("[dictionaries]")
for name, ids in dictionaries.items():
    if ids:
        print(f"{name} = {{ values = {json.dumps(ids)} }}")
for name, ids in dictionaries.items():
    if ids:
        print("\n[[operations]]")
        print(f"include-path-regex = {json.dumps(paths[name])}")
        print(f'parameters = {{ "path.id" = {{ dictionary = "{name}", probability = 0.5 }} }}')
