"""The watch floor: the live alert stream, the picture page, HTTP commands and event intake."""
