"""IREV's configuration and the templates, shipped inside the package.

``templates/`` and ``sources/`` here are symbolic links to the repository's
top-level ``templates/`` and ``sources/`` folders (which stay where a person
editing them expects them). A build follows the links, so an installed
package carries real copies; an editable install reads the repository's
folders directly. Find them through :mod:`newsletter.home`, never by path.
"""
