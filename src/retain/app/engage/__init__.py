"""The service's side of engage: the unsubscribe page behind every e-mail's link."""
