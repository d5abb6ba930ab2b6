from __future__ import annotations

from django.urls import path

from guidance import views

app_name = "guidance"

urlpatterns = [
    path("", views.process_list, name="process-list"),
    path("import/", views.process_import, name="process-import"),
    path("preview/", views.markdown_preview, name="markdown-preview"),
    path("<slug:key>/draft/", views.process_draft, name="process-draft"),
    path("versions/<int:pk>/", views.version_detail, name="version-detail"),
    path("versions/<int:pk>/export/", views.version_export, name="version-export"),
    path("versions/<int:pk>/graph/", views.version_graph, name="version-graph"),
    path("versions/<int:pk>/problems/", views.version_problems, name="version-problems"),
    path("versions/<int:pk>/diff/", views.version_diff, name="version-diff"),
    path("versions/<int:pk>/publish/", views.version_publish, name="version-publish"),
    path("versions/<int:pk>/test-run/", views.version_testrun, name="version-testrun"),
    path("versions/<int:pk>/rule-check/", views.rule_check, name="rule-check"),
    path("versions/<int:pk>/steps/add/", views.step_add, name="step-add"),
    path("versions/<int:pk>/steps/<slug:key>/", views.step_editor, name="step-editor"),
    path("versions/<int:pk>/steps/<slug:key>/save/", views.step_save, name="step-save"),
    path("versions/<int:pk>/steps/<slug:key>/move/", views.step_move, name="step-move"),
    path("versions/<int:pk>/steps/<slug:key>/remove/", views.step_remove, name="step-remove"),
]
