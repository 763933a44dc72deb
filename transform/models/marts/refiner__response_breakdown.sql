-- One row per answer: the question's text and type, the survey, the response, the contact and
-- the account, with the NPS group and CSAT satisfaction where the question has them.
with answers as (
  select * from {{ ref('stg_refiner__answers') }}
),

responses as (
  select * from {{ ref('stg_refiner__responses') }}
),

questions as (
  select * from {{ ref('stg_refiner__questions') }}
),

forms as (
  select * from {{ ref('stg_refiner__forms') }}
),

contacts as (
  select * from {{ ref('stg_refiner__contacts') }}
)

select
  answers.answer_id,
  answers.response_uuid,
  answers.question_id,
  answers.form_uuid,
  coalesce(forms.form_name, responses.form_name) as form_name,
  questions.question_text,
  questions.question_type,
  questions.question_position,
  answers.answer_value,
  answers.answer_number,
  answers.answered_at,
  {{ refiner_utc_date('answers.answered_at') }} as answered_on,
  responses.response_status,
  responses.completed_at,
  case
    when questions.question_type = 'nps' then {{ refiner_nps_category('answers.answer_number') }}
  end as nps_category,
  case
    when questions.question_type = 'csat' and answers.answer_number is not null
      then answers.answer_number >= 4
  end as is_csat_satisfied,
  coalesce(answers.contact_uuid, responses.contact_uuid) as contact_uuid,
  coalesce(answers.contact_remote_id, contacts.contact_remote_id, responses.contact_remote_id)
    as contact_remote_id,
  coalesce(contacts.contact_email, responses.contact_email) as contact_email,
  coalesce(contacts.account_uuid, responses.account_uuid) as account_uuid,
  coalesce(contacts.account_remote_id, responses.account_remote_id) as account_remote_id,
  coalesce(contacts.account_name, responses.account_name) as account_name
from answers
left join responses on responses.response_uuid = answers.response_uuid
left join questions
  on questions.form_uuid = answers.form_uuid and questions.question_id = answers.question_id
left join forms on forms.form_uuid = answers.form_uuid
left join contacts on contacts.contact_uuid = coalesce(answers.contact_uuid, responses.contact_uuid)
