"""Test data for ci/api-fuzz.sh: things that exist, so that Schemathesis's
requests on `/{id}` reach the handlers rather than a 404 every time.

Signed in as the fuzz admin, it makes events (a draft, and published ones
with two seats), announcements (one mailed, so the outbox has messages) and
exchange records through the API; a second account (another admin, made by
ci/api-fuzz.sh) adds records for the admin to verify and asks the admin for
an introduction; and applicants sign up and confirm their address with the
mailed link (read from MAIL_DIR, where Karvan writes mail as .eml files),
so that approving and rejecting one reaches more than a 409. With the
seeded members and programmes, it prints TOML for Schemathesis's
configuration: one dictionary of ids per kind of thing, and each `{id}`
path bound to its dictionary for half of the generated requests (the other
half keep random ids, so 404s stay tested).

    python ci/api-fuzz-data.py BASE_URL ACCESS_TOKEN FRIEND_EMAIL FRIEND_PASSWORD MAIL_DIR >> schemathesis.toml
"""

import email
import email.policy
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

base, admin_token, friend_email, friend_password, mail_dir = sys.argv[1:6]


def call(method, path, body=None, token=admin_token):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        sys.exit(f"api-fuzz-data: {method} {path} answered {error.code}: {error.read().decode()}")


def mailed_token(address, path):
    """The token of the link to `path` in a mail to `address`, once the
    outbox has written it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for name in sorted(os.listdir(mail_dir)) if os.path.isdir(mail_dir) else []:
            with open(os.path.join(mail_dir, name), "rb") as file:
                message = email.message_from_binary_file(file, policy=email.policy.default)
            if address not in str(message["To"]):
                continue
            found = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)", message.get_body(("plain",)).get_content())
            if found:
                return found.group(1)
        time.sleep(0.2)
    sys.exit(f"api-fuzz-data: no {path} link mailed to {address} in {mail_dir}")


# Several of each kind: a generated DELETE or cancel uses one up.
COPIES = 3
me = call("GET", "/api/v1/me")
friend = call("POST", "/api/v1/auth/login", {"email": friend_email, "password": friend_password}, token=None)
friend_token = friend["access_token"]
# The admin's own id is left out: acting on oneself only ever answers 409.
members = [m["id"] for m in call("GET", "/api/v1/admin/members?per_page=100")["items"] if m["id"] != me["id"]]
programs = [p["id"] for p in call("GET", "/api/v1/programs?per_page=100")["items"]]
events = []
for n in range(COPIES):
    event = call(
        "POST",
        "/api/v1/events",
        {"title": f"Fuzz reunion {n}", "starts_at": f"2030-05-0{n + 1}T18:00", "ends_at": f"2030-05-0{n + 1}T21:00",
         "time_zone": "Asia/Baku", "capacity": 2},
    )
    if n:  # the first stays a draft
        call("POST", f"/api/v1/events/{event['id']}/publish", {"notify": False})
    events.append(event["id"])
announcements = [
    call("POST", "/api/v1/announcements", {"title": f"Fuzz news {n}", "body_md": "Salam!", "email_now": n == 0})["id"]
    for n in range(COPIES)
]


def record(token):
    body = {"program_id": programs[0], "home_university": "LUMS", "host_university": "ADA University",
            "field_of_study": "Economics", "degree_level": "master", "start_date": "2019-09-01"}
    return call("POST", "/api/v1/me/exchanges", body, token=token)["id"]


# The admin's own records, to change; the friend's, for the admin to verify.
own_records = [record(admin_token) for _ in range(COPIES)]
friends_records = [record(friend_token) for _ in range(COPIES)]
outbox = [m["id"] for m in call("GET", "/api/v1/admin/outbox?per_page=20")["items"]]
# The friend asks the admin (listed in the directory for it) to be introduced.
call("PATCH", "/api/v1/me", {"listed_in_directory": True})
call("POST", f"/api/v1/members/{me['id']}/contact-requests", {"message": "Salam!"}, token=friend_token)
requests = [r["id"] for r in call("GET", "/api/v1/me/contact-requests")["items"]]
# Applicants who confirmed their address and wait for the board.
applicants = []
for n in range(COPIES):
    address = f"fuzz-applicant-{n}@example.org"
    call("POST", "/api/v1/auth/register",
         {"email": address, "password": "applicant's passphrase", "full_name": f"Fuzz Applicant {n}"}, token=None)
    applicant = call("POST", "/api/v1/auth/verify-email", {"token": mailed_token(address, "/verify-email")}, token=None)
    applicants.append(applicant["id"])

dictionaries = {
    "events": events,
    "members": members,
    "applicants": applicants,
    "programs": programs,
    "announcements": announcements,
    "own_records": own_records,
    "friends_records": friends_records,
    "outbox": outbox,
    "requests": requests,
}
paths = {
    "events": r"^/api/v1/events/\{id\}",
    # An approval or rejection of anyone but an applicant only answers 409.
    "members": r"^/api/v1/(admin/)?members/\{id\}(?!/(approve|reject)$)",
    "applicants": r"^/api/v1/admin/members/\{id\}/(approve|reject)$",
    "programs": r"^/api/v1/programs/\{id\}",
    "announcements": r"^/api/v1/announcements/\{id\}",
    "own_records": r"^/api/v1/me/exchanges/\{id\}",
    "friends_records": r"^/api/v1/admin/exchanges/\{id\}",
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
