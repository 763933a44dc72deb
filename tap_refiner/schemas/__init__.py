"""JSON schemas of the tap's streams, lean on purpose.

Objects whose keys belong to the customer (``attributes``, response ``data``, form ``config``)
are open objects, so unknown keys are kept as they are. Every timestamp is a ``date-time``
string in the fixed-width UTC form produced by ``tap_refiner.timestamps.normalize``.
"""

from __future__ import annotations

from singer_sdk import typing as th

OPEN_OBJECT = th.ObjectType(additional_properties=True)
# Shapes the sources leave open: a JSON type is still declared (tools and the SDK's standard
# tests need one), the items are left free.
ANY_LIST = th.CustomType({"type": ["array", "null"]})
NUMBER_OR_LIST = th.CustomType({"type": ["number", "array", "null"]})


def _dt(name: str, description: str | None = None) -> th.Property:
    return th.Property(name, th.DateTimeType, description=description)


ACCOUNT = th.ObjectType(
    th.Property("uuid", th.StringType),
    th.Property("remote_id", th.StringType),
    th.Property("domain", th.StringType),
    th.Property("display_name", th.StringType),
    _dt("first_seen_at"),
    _dt("last_seen_at"),
    th.Property("attributes", OPEN_OBJECT),
)

CONTACT_SEGMENT = th.ObjectType(
    th.Property("uuid", th.StringType),
    th.Property("name", th.StringType),
    _dt("created_at", "When the contact entered the segment."),
    _dt("updated_at"),
)

CONTACTS = th.PropertiesList(
    th.Property("uuid", th.StringType, required=True),
    th.Property("remote_id", th.StringType, description="Your own user id."),
    th.Property("email", th.StringType),
    th.Property("display_name", th.StringType),
    _dt("first_seen_at"),
    _dt("last_seen_at"),
    _dt("last_form_submission_at"),
    _dt("last_tracking_event_at"),
    th.Property("attributes", OPEN_OBJECT),
    th.Property("segments", th.ArrayType(CONTACT_SEGMENT)),
    th.Property("account", ACCOUNT),
).to_dict()

SEGMENTS = th.PropertiesList(
    th.Property("uuid", th.StringType, required=True),
    th.Property("name", th.StringType),
    th.Property("is_manual", th.BooleanType),
).to_dict()

SEGMENT_MEMBERSHIPS = th.PropertiesList(
    th.Property("segment_uuid", th.StringType, required=True),
    th.Property("contact_uuid", th.StringType, required=True),
    th.Property("remote_id", th.StringType),
    th.Property("email", th.StringType),
    _dt("entered_at", "When the contact entered the segment (segments[].created_at)."),
    _dt("updated_at"),
).to_dict()

RESPONSE_CONTACT = th.ObjectType(
    th.Property("uuid", th.StringType),
    th.Property("remote_id", th.StringType),
    th.Property("email", th.StringType),
    th.Property("display_name", th.StringType),
    th.Property("attributes", OPEN_OBJECT),
    th.Property("account", ACCOUNT),
)

RESPONSES = th.PropertiesList(
    th.Property("uuid", th.StringType, required=True),
    th.Property("form_uuid", th.StringType),
    th.Property(
        "form",
        th.ObjectType(th.Property("uuid", th.StringType), th.Property("name", th.StringType)),
    ),
    _dt("first_shown_at"),
    _dt("last_shown_at"),
    th.Property("show_counter", th.IntegerType),
    _dt("first_data_reception_at"),
    _dt("last_data_reception_at"),
    _dt("completed_at"),
    _dt("received_at"),
    _dt("dismissed_at"),
    th.Property("data", OPEN_OBJECT, description="Answers keyed by question identifier."),
    th.Property("tags", th.ArrayType(OPEN_OBJECT)),
    th.Property("contact", RESPONSE_CONTACT),
).to_dict()

ANSWERS = th.PropertiesList(
    th.Property("response_uuid", th.StringType, required=True),
    th.Property("question_id", th.StringType, required=True),
    th.Property("form_uuid", th.StringType),
    th.Property("value", th.StringType, description="The answer as text (JSON for lists)."),
    th.Property("value_number", th.NumberType, description="The answer when it is numeric."),
    _dt("answered_at", "The response's last_data_reception_at."),
    th.Property("contact_uuid", th.StringType),
    th.Property("contact_remote_id", th.StringType),
).to_dict()

FORMS = th.PropertiesList(
    th.Property("uuid", th.StringType, required=True),
    th.Property("name", th.StringType),
    th.Property("channels", th.ArrayType(th.StringType)),
    _dt("created_at"),
    _dt("updated_at"),
    _dt("published_at"),
    _dt("archived_at"),
    _dt("first_form_view_at"),
    _dt("last_form_view_at"),
    th.Property("responses_count", th.IntegerType),
    th.Property("views_count", th.IntegerType),
    th.Property("folder", OPEN_OBJECT),
    th.Property("page_url", th.StringType),
    th.Property("config", OPEN_OBJECT),
).to_dict()

QUESTIONS = th.PropertiesList(
    th.Property("form_uuid", th.StringType, required=True),
    th.Property("question_id", th.StringType, required=True),
    th.Property("position", th.IntegerType, description="Index in config.form_elements."),
    th.Property("type", th.StringType),
    th.Property("text", th.StringType),
    th.Property("required", th.BooleanType),
    th.Property("options", ANY_LIST),
).to_dict()

ACCOUNT_USAGE = th.PropertiesList(
    _dt("extracted_at", "When this snapshot was taken."),
    th.Property("plan", th.StringType),
    th.Property("mtu_count", th.IntegerType),
    th.Property("mtu_limit", th.IntegerType),
    th.Property("mpv_count", th.IntegerType),
    th.Property("mpv_limit", th.IntegerType),
    th.Property("msr_count", th.IntegerType),
    th.Property("msr_limit", th.IntegerType),
    th.Property("mte_count", th.IntegerType),
    th.Property("subscription", OPEN_OBJECT, description="The subscription object as sent."),
    th.Property(
        "environments",
        th.ArrayType(
            th.ObjectType(
                th.Property("uuid", th.StringType),
                th.Property("name", th.StringType),
                th.Property("mtu", th.IntegerType),
                th.Property("mte", th.IntegerType),
                th.Property("mpv", th.IntegerType),
                th.Property("msr", th.IntegerType),
                additional_properties=True,
            )
        ),
    ),
).to_dict()

REPORTS = th.PropertiesList(
    th.Property("form_uuid", th.StringType, required=True),
    th.Property("type", th.StringType, required=True),
    th.Property("date", th.DateType, required=True, description="The UTC day reported."),
    th.Property("count", th.IntegerType),
    th.Property("nps", th.NumberType),
    th.Property("csat", th.NumberType),
    th.Property("average", th.NumberType),
    th.Property("sum", th.NumberType),
    th.Property("views", th.IntegerType),
    th.Property("responses", th.IntegerType),
    th.Property("datapoints", NUMBER_OR_LIST),
    th.Property("data", OPEN_OBJECT, description="Distribution or NPS groups, as sent."),
).to_dict()
