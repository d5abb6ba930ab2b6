"""SMTP intake: real mail sent with smtplib to the intake's SMTP server."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from cases.models import InboundMessage, InboundStatus
from cases.smtp import smtp_controller
from customers.models import Attachment, Interaction
from customers.privacy import customer_erase
from tests.conftest import free_port

pytestmark = pytest.mark.django_db(transaction=True)  # the server stores from its own threads
BASE = Path(__file__).resolve().parents[2]
PDF = b"%PDF-1.4 not really a pdf \x00\x01\x02" * 10


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def smtp(media):
    controller = smtp_controller(host="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


def send(controller, message: EmailMessage) -> None:
    with smtplib.SMTP(controller.hostname, controller.port, timeout=30) as client:
        client.send_message(message)


def mail(message_id: str = "<m1@example.de>", text: str = "Meine Rechnung ist zu hoch."):
    message = EmailMessage()
    message["From"] = "Anna Berg <Anna@Example.de>"
    message["To"] = "service@cpm.example"
    message["Subject"] = "Rechnung für März"
    message["Message-ID"] = message_id
    message.set_content(text)
    return message


def test_a_plain_mail_becomes_an_interaction_on_a_case(smtp) -> None:
    send(smtp, mail())
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.external_id) == ("email", "<m1@example.de>")
    assert inbound.status == InboundStatus.PROCESSED
    assert inbound.payload["to"] == "service@cpm.example"
    interaction = inbound.interaction
    assert (interaction.subject, interaction.body) == (
        "Rechnung für März",
        "Meine Rechnung ist zu hoch.",
    )
    assert interaction.customer.contact_points.get().normalised == "anna@example.de"
    assert interaction.case_reference == inbound.case.reference
    assert not Attachment.objects.exists()


def test_the_same_message_id_twice_is_one_interaction(smtp) -> None:
    send(smtp, mail())
    send(smtp, mail(text="Redelivered by the mail server"))
    assert InboundMessage.objects.count() == 1
    assert Interaction.objects.count() == 1


def test_a_mail_without_message_id_is_recognised_by_its_bytes(smtp) -> None:
    message = mail()
    del message["Message-ID"]
    send(smtp, message)
    send(smtp, message)
    assert InboundMessage.objects.get().external_id.startswith("sha256:")


def test_an_attachment_is_stored_and_only_desk_roles_download_it(
    smtp, media, agent_client: Client, nobody, client: Client
) -> None:
    message = mail()
    message.add_attachment(
        PDF, maintype="application", subtype="pdf", filename='../../etc/"passwd".pdf'
    )
    send(smtp, message)
    attachment = Attachment.objects.get()
    assert (attachment.filename, attachment.size, attachment.omitted) == (
        "etcpasswd.pdf",
        len(PDF),
        False,
    )
    assert attachment.file.name.startswith("attachments/")
    assert (media / attachment.file.name).read_bytes() == PDF
    case = InboundMessage.objects.get().case.reference
    url = reverse("cases:attachment-download", args=[case, attachment.pk])

    page = agent_client.get(reverse("cases:case-messages", args=[case])).content.decode()
    assert url in page
    assert "etcpasswd.pdf" in page
    response = agent_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")

    assert client.get(url).status_code == 302  # log-in first
    nobody_client = Client()
    nobody_client.force_login(nobody)
    assert nobody_client.get(url).status_code == 403


def test_an_attachment_is_only_reachable_through_its_own_case(smtp, agent_client) -> None:
    first = mail()
    first.add_attachment(PDF, maintype="application", subtype="pdf", filename="a.pdf")
    send(smtp, first)
    other = mail("<m2@other.de>")
    other.replace_header("From", "someone@other.de")
    send(smtp, other)
    attachment = Attachment.objects.get()
    other_case = InboundMessage.objects.get(external_id="<m2@other.de>").case.reference
    url = reverse("cases:attachment-download", args=[other_case, attachment.pk])
    assert agent_client.get(url).status_code == 404


def test_an_oversize_attachment_is_recorded_without_its_content(
    smtp, settings, agent_client
) -> None:
    settings.CPM_ATTACHMENT_MAX_BYTES = 100
    message = mail()
    message.add_attachment(b"x" * 5000, maintype="image", subtype="png", filename="scan.png")
    message.add_attachment(b"small", maintype="text", subtype="plain", filename="note.txt")
    send(smtp, message)
    big, small = Attachment.objects.order_by("id")
    assert (big.filename, big.size, big.omitted, big.file.name) == ("scan.png", 5000, True, "")
    assert (small.filename, small.omitted) == ("note.txt", False)
    case = InboundMessage.objects.get().case.reference
    page = agent_client.get(reverse("cases:case-messages", args=[case])).content.decode()
    assert "not stored" in page
    assert reverse("cases:attachment-download", args=[case, big.pk]) not in page
    assert (
        agent_client.get(reverse("cases:attachment-download", args=[case, big.pk])).status_code
        == 404
    )
    assert Interaction.objects.get().body == "Meine Rechnung ist zu hoch."


def test_a_mail_over_the_size_limit_is_refused(media, settings) -> None:
    settings.CPM_SMTP_MAX_BYTES = 2000
    controller = smtp_controller(host="127.0.0.1", port=free_port())
    controller.start()
    try:
        with pytest.raises(smtplib.SMTPException) as refused:
            send(controller, mail(text="x" * 5000))
    finally:
        controller.stop()
    assert "552" in str(refused.value)
    assert not InboundMessage.objects.exists()


def test_the_command_listens_and_stops_on_sigterm() -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "smtp_intake", "--port", str(port)],
        cwd=BASE,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "cpm.settings"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout.readline().strip() == f"SMTP intake listening on 127.0.0.1:{port}"
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            code, _answer = client.ehlo()
            assert code == 250
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0
    finally:
        if server.poll() is None:
            server.kill()


def test_erasing_the_customer_removes_their_files(smtp, media, supervisor) -> None:
    message = mail()
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="a.pdf")
    send(smtp, message)
    attachment = Attachment.objects.get()
    stored = media / attachment.file.name
    assert stored.exists()
    customer = attachment.interaction.customer
    customer_erase(customer=customer, by=supervisor, confirm=customer.number)
    assert not Attachment.objects.exists()
    assert not stored.exists()


@pytest.fixture
def certificate(tmp_path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    cert, key = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return str(cert), str(key)


@pytest.fixture
def secured(media, certificate):
    from cases.smtp import SmtpSecurity

    cert, key = certificate
    security = SmtpSecurity(cert=cert, key=key, user="relay", password="s3cret-relay")
    controller = smtp_controller(host="127.0.0.1", port=free_port(), security=security)
    controller.start()
    yield controller
    controller.stop()


def secured_client(controller) -> smtplib.SMTP:
    import ssl

    client = smtplib.SMTP(controller.hostname, controller.port, timeout=30)
    client.starttls(context=ssl._create_unverified_context())  # our own self-signed one
    return client


def test_with_a_certificate_and_a_login_mail_needs_starttls_and_the_login(secured) -> None:
    with smtplib.SMTP(secured.hostname, secured.port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPException):  # no STARTTLS: no login, no mail
            client.login("relay", "s3cret-relay")
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(mail("<plain@example.de>"))
        assert refused.value.smtp_code == 530
    with secured_client(secured) as client, pytest.raises(smtplib.SMTPAuthenticationError):
        client.login("relay", "wrong")
    with secured_client(secured) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(mail("<nologin@example.de>"))
        assert refused.value.smtp_code == 530
    assert InboundMessage.objects.count() == 0  # nothing stored without TLS and the login
    with secured_client(secured) as client:
        client.login("relay", "s3cret-relay")
        client.send_message(mail("<secured@example.de>"))
    stored = InboundMessage.objects.get()
    assert (stored.external_id, stored.status) == ("<secured@example.de>", InboundStatus.PROCESSED)


def test_a_login_without_tls_or_half_a_login_is_refused_at_start(certificate) -> None:
    from cases.smtp import SmtpSecurity

    cert, key = certificate
    with pytest.raises(ValueError, match="needs TLS"):
        smtp_controller(
            host="127.0.0.1", port=free_port(), security=SmtpSecurity(user="u", password="p")
        )
    with pytest.raises(ValueError, match="both"):
        SmtpSecurity(cert=cert, key=key, user="relay").options()
