"""Wire the services together once per process, for the web app and the CLI alike."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from did_service.clock import utcnow
from did_service.config import Settings
from did_service.errors import ConfigurationError, NotFound, Unprocessable
from did_service.core.did import did_web_from_url
from did_service.core.did_document import build_issuer_document
from did_service.core.schema import SchemaRegistry
from did_service.core.verifier.presentation import PresentationResult, verify_presentation
from did_service.core.verifier.report import Report
from did_service.core.policy.certificate import evaluate_certificate
from did_service.core.policy.decision import Decision
from did_service.core.verifier.verify import AnchorEvidence, IssuerLog, verify_credential, verify_secured
from did_service.services.issuance import IssuanceService
from did_service.services.keyring import Keyring, LiveKeyring, ensure_issuer_keys, load_kek
from did_service.services.resolver import Resolver
from did_service.services.transparency import LogIdentity, TransparencyLog
from did_service.services.status import StatusService
from did_service.services.trust import TrustService
from did_service.services.residents import ResidentService
from did_service.services.sessions import SessionService
from did_service.services.wallet_issuance import WalletIssuance
from did_service.services.wallet_presentation import RequestReader
from did_service.services.verifier import VerifierService
from did_service.core.sealed import derive_key
from did_service.services.resolver import StatusListCache, fetch_status_list_text, post_webhook
from did_service.core.status_list import StatusListError
from did_service.storage import open_store
from did_service.storage.base import Store

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    store: Store
    registry: SchemaRegistry
    issuer_did: str
    keys: LiveKeyring
    resolver: Resolver
    issuance: IssuanceService
    log: TransparencyLog
    status: StatusService
    trust: TrustService
    verifier: VerifierService
    residents: ResidentService
    sessions: SessionService
    wallet: WalletIssuance
    presentation_requests: RequestReader
    clock: Callable[[], datetime] = utcnow
    status_fetcher: Callable[[str], str] = field(default_factory=lambda: StatusListCache(fetch_status_list_text))

    @property
    def keyring(self) -> Keyring:
        return self.keys.current()[0]

    @property
    def did_document(self) -> dict[str, Any]:
        return self.keys.current()[1]

    def verify_credential(self, value: Any) -> Report:
        return verify_credential(value, **self._verifier_context())

    def verify_certificate(self, value: Any, document: bytes | None) -> tuple[Report, Decision]:
        """Verify a credential and decide on it under the certificate policy (residence, diploma, notarized)."""
        report, opened = verify_secured(value, **self._verifier_context())
        credential_type = disclosed = None
        if opened is not None:
            credential_type, disclosed = self._type_and_subject(opened.credential)
        decision = evaluate_certificate(credential_type=credential_type, presentation_verified=report.verified,
                                        disclosed=disclosed, document_bytes=document)
        return report, decision

    def verify_presentation_certificate(self, value: Any, *, challenge: str, domain: str,
                                        document: bytes | None) -> tuple[PresentationResult, Decision]:
        """A presentation of one certificate (residence, diploma, notarized), decided under the certificate policy."""
        result = self.verify_presentation(value, challenge=challenge, domain=domain)
        credential_type = disclosed = None
        if len(result.credentials) == 1 and result.credentials[0].opened is not None:
            credential_type, disclosed = self._type_and_subject(result.credentials[0].opened.credential)
        # Several credentials in one presentation: which one is the certificate would be a guess, so none is.
        decision = evaluate_certificate(credential_type=credential_type,
                                        presentation_verified=result.verified and len(result.credentials) == 1,
                                        disclosed=disclosed, document_bytes=document)
        return result, decision

    def _type_and_subject(self, credential: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
        types = credential.get("type")
        try:
            found = self.registry.find_type(types if isinstance(types, list) else [])
        except Unprocessable:  # two registered types: the report already failed it
            found = None
        subject = credential.get("credentialSubject")
        return (found.name if found else None), (subject if isinstance(subject, dict) else None)

    def verify_presentation(self, value: Any, *, challenge: str, domain: str) -> PresentationResult:
        return verify_presentation(value, challenge=challenge, domain=domain, **self._verifier_context())

    def _verifier_context(self) -> dict[str, Any]:
        own_log = IssuerLog(self.log.identity.vkey, self.log.identity.origin, self._anchor_evidence)
        return dict(
            resolve=self.resolver,
            registry=self.registry,
            trusted_issuers=self.trust.current(),
            now=self.clock(),
            issuer_logs={self.issuer_did: own_log},
            status_lists=self.fetch_status_list,
        )

    def fetch_status_list(self, url: str) -> str:
        """This issuer's lists from the store; anyone else's over HTTPS through the guarded client."""
        list_id = self.status.list_id_of(url)
        if list_id is not None:
            try:
                return self.status.published(list_id).token
            except NotFound as exc:
                raise StatusListError("no such status list", code="status_retrieval_error") from exc
        return self.status_fetcher(url)

    def _anchor_evidence(self, digest: str) -> AnchorEvidence:
        record = self.store.get_credential_by_digest(digest)
        if record is None or record.leaf_index is None:
            raise NotFound("no credential with this digest is in the log", code="not_in_log")
        receipt = self.log.receipt_for(record)
        # The live key ring re-reads the key records at most a second later than a rotation by another process;
        # issuance itself always re-reads them, so nothing this service signs can fall in that second.
        state = self.keys.current()[0].state(record.issuer_kid)
        key = state.record if state else None
        return AnchorEvidence(receipt, key.log_index if key else None, key.retired_log_index if key else None)


def build_services(
    settings: Settings, *, store: Store | None = None, create_keys: bool = True, create_kek: bool | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Services:
    """Open the store, load (or on first start create) the KEK and issuer keys, build the DID document.

    ``create_kek`` defaults to development only: a production KEK is made by an explicit `did-service init`.
    """
    store = store or open_store(settings.store_url)
    problem = store.durability_problem()
    if problem:
        if settings.production:
            raise ConfigurationError(problem)
        log.warning("%s; acknowledged writes may be lost in a crash", problem)
    registry = SchemaRegistry.from_directory(settings.schemas_dir)
    if create_kek is None:
        create_kek = create_keys and not settings.production
    kek = load_kek(settings, create=create_kek)
    issuer_did = did_web_from_url(settings.public_url)
    keyring = ensure_issuer_keys(store, kek, issuer_did, clock(), create=create_keys)
    transparency = TransparencyLog(store, LogIdentity(log_origin(settings.public_url), keyring.log_key.private_key), clock)

    def document_for(ring: Keyring) -> dict:
        return build_issuer_document(
            issuer_did, [state.key for state in ring.issuer_keys], log_endpoint=f"{settings.public_url}/log/v1",
            log_vkey=transparency.identity.vkey,
        )

    keys = LiveKeyring(store, kek, document_for)
    resolver = Resolver(issuer_did, lambda: keys.current()[1])
    status = StatusService(store, keys, issuer_did, settings.public_url, settings.status_list_size,
                           settings.status_max_age, clock)
    issuance = IssuanceService(store, keys, registry, issuer_did, settings.default_alg, status, settings.public_url)
    trust = TrustService(store, registry, issuer_did)
    # The verifier reads the clock and verifies through Services, so a clock or status fetcher set on Services
    # later (tests, the CLI) reaches it too.
    holder: list[Services] = []
    verifier = VerifierService(
        store=store, keys=keys, registry=registry, issuer_did=issuer_did, settings=settings,
        verify=lambda presentation, nonce, audience: holder[0].verify_presentation(
            presentation, challenge=nonce, domain=audience),
        seal_key=derive_key(kek, "verifier sealed data"), webhook_key=derive_key(kek, "verifier webhooks"),
        clock=lambda: holder[0].clock(), log_origin=transparency.identity.origin, webhook_sender=post_webhook,
    )
    residents = ResidentService(store, seal_key=derive_key(kek, "resident data"),
                                index_key=derive_key(kek, "resident rrn index"), clock=lambda: holder[0].clock())
    sessions = SessionService(store, secret_key=settings.secret_key, idle_seconds=settings.session_idle,
                              max_seconds=settings.session_max, clock=lambda: holder[0].clock())
    wallet = WalletIssuance(residents, issuance, store, issuer_identifier=settings.public_url,
                            nonce_key=derive_key(kek, "wallet nonces"), clock=lambda: holder[0].clock())
    presentation_requests = RequestReader(
        public_url=settings.public_url, store=store, registry_types=registry.names, own_request=verifier.request_object,
        own_document=verifier.document, tenant_did_base=f"{issuer_did}:verifiers:", resolve=resolver,
        clock=lambda: holder[0].clock())
    services = Services(settings, store, registry, issuer_did, keys, resolver, issuance, transparency, status, trust,
                        verifier, residents, sessions, wallet, presentation_requests, clock)
    holder.append(services)
    return services


def log_origin(public_url: str) -> str:
    """The C2SP origin line: the log's schema-less URL, e.g. `id.jeju.example/log`."""
    return public_url.split("://", 1)[1].rstrip("/") + "/log"
