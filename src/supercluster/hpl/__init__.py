"""HPL / TOP500 / Green500 estimates."""
