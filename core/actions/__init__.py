"""Use cases: one function per thing a member, a staff member, a job or the HTTP API does.

Every face calls the same function for the same action, so the rules written here (who may, what is
audited, what is told to whom, what a retry does) hold for the chat, the jobs and the API alike.
Each action:

* takes the :class:`~core.club.Club` (its sessions and rules), the :class:`~core.audit.Actor`, the
  arguments already parsed by the face, and, where a retry can happen, an idempotency ``key``;
* opens its own transaction: finds the member, checks the rules, writes the ledger, the audit entry
  and any outbox rows, and commits them together, so nothing half-done is ever seen; an action that
  only reads (a report, a listing, an export's rows) opens a :func:`~core.db.snapshot` instead,
  which never waits for a writer nor makes one wait;
* returns a frozen dataclass outcome with everything the face needs to answer (the ORM rows in it
  stay readable after the commit: sessions do not expire on commit);
* raises a :class:`~core.errors.BashgahError` for anything the user got wrong, and then nothing
  has changed.

Where text must be written into the outbox it takes a ``render`` callback from the face, as
:func:`core.surveys.queue_due` does: core never imports the templates' languages or Telegram.
A face is then: parse the input, call one action, render one template.
"""
