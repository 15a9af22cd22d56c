"""One structured log event per persisted transition: the trail an operator greps during an incident.

The fields carry numbers as they are (requester, destination, callback number, the notice text): masking
is the logging chain's job (``ops.logging.RedactingObserver``), done once for every event, so this
listener stays honest about what it knows and cannot forget a field. Ends are logged at info, the steps
in between at debug, so a production log at info shows one line per finished request.
"""

from __future__ import annotations

from twisted.logger import Logger

from ..core.model import CallbackRequest, Transition

log = Logger(namespace="roamback.requests")


def log_transition(request: CallbackRequest, transition: Transition) -> None:
    """An engine listener: ``engine.add_listener(log_transition)``."""
    emit = log.info if transition.target.terminal else log.debug
    emit(
        "request {request_id} {source} -> {target}{why} ({channel} from {requester} to {destination})",
        request_id=request.id, source=transition.source.value, target=transition.target.value,
        why=f" ({transition.reason})" if transition.reason else "", reason=transition.reason,
        channel=request.channel.value, requester=request.requester,
        destination=request.destination or request.destination_raw, callback_number=request.callback_number,
        detail=transition.detail, notice=transition.notice.text if transition.notice else None,
    )
