from __future__ import annotations

from django.urls import path

from cases import offer_views, views

app_name = "cases"

urlpatterns = [
    path("decisions/", views.decisions, name="decisions"),
    path("decisions/<int:run_id>/", views.decision_make, name="decision-make"),
    path("customer/<int:customer_id>/", views.customer_cases, name="customer-cases"),
    path("offers/report/", offer_views.offer_report, name="offer-report"),
    path("offers/catalog/", offer_views.offer_catalog, name="offer-catalog"),
    path("offers/catalog/new/", offer_views.offer_create, name="offer-create"),
    path("offers/catalog/rule-check/", offer_views.offer_rule_check, name="offer-rule-check"),
    path("offers/catalog/<int:pk>/", offer_views.offer_edit, name="offer-edit"),
    path("offers/catalog/<int:pk>/active/", offer_views.offer_activate, name="offer-activate"),
    path("offers/<int:customer_id>/", offer_views.customer_offers, name="customer-offers"),
    path(
        "offers/<int:customer_id>/outcome/",
        offer_views.offer_outcome_save,
        name="offer-outcome-save",
    ),
    path("next/", views.case_get_next, name="case-get-next"),
    path("queue/", views.team_queue, name="team-queue"),
    path("escalations/", views.escalation_inbox, name="escalation-inbox"),
    path("lifecycle/", views.case_lifecycle, name="case-lifecycle"),
    path("exceptions/<int:pk>/decide/", views.exception_decide, name="exception-decide"),
    path("exceptions/<int:pk>/reprocess/", views.exception_reprocess, name="exception-reprocess"),
    path("exceptions/<int:pk>/identify/", views.exception_identify, name="exception-identify"),
    path("<str:reference>/", views.case_detail, name="case-detail"),
    path(
        "<str:reference>/transitions/<slug:name>/",
        views.case_transition,
        name="case-transition",
    ),
    path("<str:reference>/guided/", views.case_guided, name="case-guided"),
    path("<str:reference>/guided/start/", views.case_guided_start, name="case-guided-start"),
    path("<str:reference>/guided/step/", views.case_guided_submit, name="case-guided-submit"),
    path("<str:reference>/guided/back/", views.case_guided_back, name="case-guided-back"),
    path("<str:reference>/assign/", views.case_assign, name="case-assign"),
    path("<str:reference>/follow-up/", views.case_follow_up, name="case-follow-up"),
    path("<str:reference>/links/", views.case_links, name="case-links"),
    path("<str:reference>/links/add/", views.case_link_add, name="case-link-add"),
    path("<str:reference>/merge/", views.case_merge_panel, name="case-merge-panel"),
    path("<str:reference>/merge/into/", views.case_merge, name="case-merge"),
    path("<str:reference>/merge/undo/", views.case_unmerge, name="case-unmerge"),
    path("<str:reference>/history/", views.case_history, name="case-history"),
    path("<str:reference>/notes/", views.case_note_add, name="case-note-add"),
    path("<str:reference>/reply/", views.case_reply_form, name="case-reply-form"),
    path("<str:reference>/reply/send/", views.case_reply_send, name="case-reply-send"),
    path("<str:reference>/replies/", views.case_replies, name="case-replies"),
    path("<str:reference>/messages/", views.case_messages, name="case-messages"),
    path("<str:reference>/messages/<int:pk>/move/", views.inbound_move, name="inbound-move"),
    path(
        "<str:reference>/attachments/<int:pk>/",
        views.attachment_download,
        name="attachment-download",
    ),
    path("<str:reference>/moves/<int:pk>/undo/", views.inbound_move_undo, name="inbound-move-undo"),
    path(
        "<str:reference>/messages/<int:pk>/confirm/",
        views.inbound_confirm,
        name="inbound-confirm",
    ),
]
