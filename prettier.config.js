// Prettier settings matching the code as it is written: single quotes, trailing commas,
// long lines (150 columns, measured to change the fewest files). Editor scripts keep their
// own style: 4-space indent, double quotes, no trailing commas, quoted keys left as they are.
module.exports = {
  printWidth: 150,
  singleQuote: true,
  trailingComma: 'all',
  overrides: [
    {
      files: ['src/nodes/**/editor.js', 'src/nodes/shared/editor/*.js'],
      options: { tabWidth: 4, singleQuote: false, trailingComma: 'none', quoteProps: 'preserve' },
    },
  ],
};
