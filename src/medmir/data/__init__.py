"""Reading image collections: the NIH release, a generic folder + CSV, and the balanced subset."""
