"""Image models compared: answers about one image (vision chat: text, seconds, tokens, cost) and pictures
of one prompt (text-to-image: picture, seconds, cost per image), on hosted models."""

from playground._lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "ImageFile": "image_input",
        "ImageFileError": "image_input",
        "read_image": "image_input",
        "sample_card": "image_input",
        "ImagePayer": "billing",
        "IMAGE_CALL": "billing",
        "ImagesError": "service",
        "DescribeResult": "service",
        "PaintResult": "service",
        "describe_compare": "service",
        "describe_each": "service",
        "ImageAsk": "service",
        "paint_compare": "service",
        "DEFAULT_SIZE": "service",
        "DESCRIBE": "service",
        "PAINT": "service",
        "KeptQuestion": "kept",
        "KeptPainting": "kept",
        "kept_images": "kept",
    },
)
