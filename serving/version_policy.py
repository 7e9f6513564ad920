"""Which versions to serve, as TF Serving decides it: `model_version_policy` from a model config
file (`latest { num_versions: N }`, `specific { versions: … }`, `all {}`; default latest 1), and
the names clients may use for versions (`version_labels { key: "stable" value: 3 }`)."""
import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
    latest: Optional[int] = 1                  # serve the newest N versions ...
    specific: Tuple[int, ...] = ()             # ... or exactly these
    all_versions: bool = False                 # ... or every version on disk

    def select(self, on_disk: Sequence[int]) -> List[int]:
        on_disk = sorted(on_disk)
        if self.all_versions:
            return on_disk
        if self.specific:
            return [v for v in on_disk if v in self.specific]
        return on_disk[-self.latest:] if self.latest else []


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: str
    policy: VersionPolicy
    version_labels: Dict[str, int] = dataclasses.field(default_factory=dict)


def read_model_config(path: str) -> ModelConfig:
    """The one model of a TF Serving `--model_config_file` (text proto)."""
    with open(path) as f:
        try:
            config = text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())
        except text_format.ParseError as error:
            raise ValueError(f"{path}: not a TF Serving model config: {error}") from error
    models = config.model_config_list.config
    if len(models) != 1:
        raise ValueError(f"{path}: this server serves one model; the config lists {len(models)}")
    model = models[0]
    if model.model_platform not in ("", "tensorflow"):
        raise ValueError(f"{path}: model_platform '{model.model_platform}' is not supported")
    which = model.model_version_policy.WhichOneof("policy_choice")
    if which == "specific":
        versions = tuple(model.model_version_policy.specific.versions)
        if not versions:
            raise ValueError(f"{path}: model_version_policy.specific lists no versions")
        policy = VersionPolicy(latest=None, specific=versions)
    elif which == "all":
        policy = VersionPolicy(latest=None, all_versions=True)
    else:
        latest = model.model_version_policy.latest.num_versions if which == "latest" else 1
        if latest < 1:
            raise ValueError(f"{path}: latest.num_versions must be >= 1")
        policy = VersionPolicy(latest=latest)
    labels = dict(model.version_labels)
    if any(version < 1 for version in labels.values()):
        raise ValueError(f"{path}: version_labels must name versions >= 1, got {labels}")
    return ModelConfig(model.name, model.base_path, policy, labels)
