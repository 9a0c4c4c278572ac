"""Reading images: every input kind (PNG, JPEG, WebP, TIFF, DICOM) decoded by one rule, and thumbnails."""
