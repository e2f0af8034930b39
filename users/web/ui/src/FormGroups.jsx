// The start form's own fields (users/web/web_form.py): in sections with headings, lists as selects, help under each
// field, and a field's problem beside it (POST /websocket/check when a value changes and at START).
import ExpandMoreIcon from '@mui/icons-material/ExpandMore';
import {
  Accordion,
  AccordionDetails,
  AccordionSummary,
  Box,
  Checkbox,
  FormControlLabel,
  TextField,
  Typography,
} from '@mui/material';
import { useEffect, useRef, useState } from 'react';

const WIDE = new Set(['tools', 'scenario', 'threshold', 'subscribe', 'rpcHello']);
const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

function groupsOf(extraOptions) {
  const groups = [];
  for (const [name, option] of Object.entries(extraOptions)) {
    const title = option.group || 'Advanced';
    let group = groups.find((g) => g.title === title);
    if (!group) groups.push((group = { title, fields: [] }));
    group.fields.push([name, option]);
  }
  return groups;
}

function Field({ name, option, error }) {
  const value = option.defaultValue;
  const label = option.label || name;
  const help = error || option.helpText || ' ';
  const wide = WIDE.has(name) ? { gridColumn: '1 / -1' } : {};
  if (typeof value === 'boolean') {
    return (
      <FormControlLabel
        control={<Checkbox defaultChecked={value} id={`ws-field-${name}`} name={name} />}
        label={label}
        sx={wide}
      />
    );
  }
  const select = Array.isArray(option.choices);
  return (
    <TextField
      defaultValue={value ?? ''}
      error={!!error}
      helperText={help}
      id={`ws-field-${name}`}
      label={label}
      name={name}
      select={select}
      size='small'
      slotProps={select ? { select: { native: true }, inputLabel: { shrink: true } } : undefined}
      sx={wide}
    >
      {select &&
        option.choices.map((choice) => (
          <option key={choice} value={choice}>
            {choice === '' ? 'none' : choice}
          </option>
        ))}
    </TextField>
  );
}

function Fields({ fields, errors }) {
  return (
    <Box sx={{ display: 'grid', gridTemplateColumns: { xs: '1fr', sm: '1fr 1fr' }, columnGap: 2, rowGap: 1.5 }}>
      {fields.map(([name, option]) => (
        <Field error={errors[name]} key={`${name}-${JSON.stringify(option.defaultValue)}`} name={name} option={option} />
      ))}
    </Box>
  );
}

// Each stage kind's knobs, folded; open while a field in it has a problem.
function Folded({ fields, errors }) {
  const [open, setOpen] = useState(false);
  if (!fields.length) return null;
  const problem = fields.some(([name]) => errors[name]);
  return (
    <Accordion expanded={open || problem} onChange={(_, expanded) => setOpen(expanded)} sx={{ mt: 1.5 }} variant='outlined'>
      <AccordionSummary expandIcon={<ExpandMoreIcon />}>
        <Typography variant='body2'>Stage settings (burst, storm, step/ramp)</Typography>
      </AccordionSummary>
      <AccordionDetails>
        <Fields errors={errors} fields={fields} />
      </AccordionDetails>
    </Accordion>
  );
}

export default function FormGroups({ extraOptions }) {
  const ref = useRef(null);
  const [errors, setErrors] = useState({});
  useEffect(() => {
    const form = ref.current && ref.current.closest('form');
    if (!form) return undefined;
    const check = async () => {
      const body = new URLSearchParams();
      for (const name of Object.keys(extraOptions)) {
        const element = form.elements.namedItem(name);
        if (element && element.type !== 'checkbox' && element.value !== undefined) body.append(name, element.value);
      }
      try {
        const response = await fetch('./websocket/check', { method: 'POST', body });
        const { field, message } = await response.json();
        setErrors(field ? { [camel(field)]: message } : {});
      } catch {
        // the server is gone: START says so
      }
    };
    form.addEventListener('change', check);
    form.addEventListener('submit', check);
    return () => {
      form.removeEventListener('change', check);
      form.removeEventListener('submit', check);
    };
  }, [extraOptions]);
  return (
    <Box ref={ref} sx={{ display: 'flex', flexDirection: 'column', rowGap: 2 }}>
      {groupsOf(extraOptions).map(({ title, fields }) => (
        <Box component='section' key={title}>
          <Typography component='h3' sx={{ mb: 1.5 }} variant='subtitle1'>
            {title}
          </Typography>
          <Fields errors={errors} fields={fields.filter(([, option]) => !option.folded)} />
          <Folded errors={errors} fields={fields.filter(([, option]) => option.folded)} />
        </Box>
      ))}
    </Box>
  );
}
