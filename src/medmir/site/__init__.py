"""The site stage: the built web app + a bundle + the model pack -> a static folder, and its HTTP server."""
