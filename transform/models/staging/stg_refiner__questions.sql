with questions as (
  {{ refiner_latest('questions', ['form_uuid', 'question_id']) }}
)

select
  form_uuid || '/' || question_id as question_key,
  form_uuid,
  question_id,
  cast("position" as integer) as question_position,
  "type" as question_type,
  "text" as question_text,
  required as is_required
from questions
