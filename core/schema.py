"""OpenAPI schema generation (drf-spectacular) fitted to how the views are written here."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    """Name nested serializers after their view: each APIView declares its own InputSerializer
    and OutputSerializer (the HackSoft style), which would otherwise all share one component name."""

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        outer = cls.__qualname__.split(".")[:-1]
        prefix = "".join(part.removesuffix("View").removesuffix("Serializer") for part in outer)
        return prefix + name if prefix and not name.startswith(prefix) else name
